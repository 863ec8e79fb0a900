"""A kyb server without its own agent, plus a `kyb agent` process under test with names unique to this run.

Every agent gets its own node name, bridge, pod CIDR, cgroup root, run dir and data dir, so tests never collide
with another cluster on the machine, and the teardown checks that everything it made is gone: pods' processes
(found by the data dir in their command lines), the bridge and its iptables rules, the cgroup root, the records.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.kubelet.cli import client_from_kubeconfig
from tests.support.cluster import Server, in_ci, running_server

Obj = dict[str, Any]
AGENT_READY = "kyb agent is ready"


def need_root() -> None:
    if os.geteuid() != 0:
        msg = "root mode needs root (network namespaces, bridges, cgroups); CI runs these as root"
        if in_ci():
            pytest.fail(msg)
        pytest.skip(msg)


@dataclass
class Agent:
    server: Server
    data_dir: Path
    run_dir: Path
    node: str
    bridge: str
    cidr: str
    cgroup_root: str
    rootless: bool
    extra: list[str] = field(default_factory=list)
    proc: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)

    def args(self, stop_pods: bool) -> list[str]:
        a = [
            sys.executable, "-m", "kybernetes.cli.main", "agent",
            "--kubeconfig", str(self.server.kubeconfig),
            "--node-name", self.node,
            "--data-dir", str(self.data_dir),
            "--run-dir", str(self.run_dir),
            "--cluster-cidr", self.cidr,
            "--bridge", self.bridge,
            "--cgroup-root", self.cgroup_root,
            "--pki-dir", str(self.server.data_dir / "pki"),
            "--kubelet-port", "0",
            "--crashloop-backoff", "0.5",
            "--resync-interval", "2",
            "--volume-sync-interval", "1",
            *self.extra,
        ]
        if self.rootless:
            a.append("--rootless")
        if stop_pods:
            a.append("--stop-pods-on-exit")
        return a

    def start(self, stop_pods: bool = True) -> Agent:
        self.proc = subprocess.Popen(
            self.args(stop_pods), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        ready = threading.Event()

        def drain() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for ln in self.proc.stdout:
                self.output.append(ln)
                if AGENT_READY in ln:
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        if not ready.wait(60) or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError("kyb agent did not start:\n" + "".join(self.output[-60:]))
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)

    def leftovers(self) -> list[str]:
        """Everything this agent made that still exists."""
        found: list[str] = []
        marker = str(self.data_dir)
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmd and " agent " not in cmd:
                found.append(f"process {pid}: {cmd[:160]}")
        if os.path.exists(f"/sys/class/net/{self.bridge}"):
            found.append(f"bridge {self.bridge}")
        for ctrl in ("memory", "cpu", "cpuacct", "pids"):
            p = Path("/sys/fs/cgroup") / ctrl / self.cgroup_root
            if p.exists():
                found.append(f"cgroup {p}")
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            for line in f:
                mnt = line.split()[4]
                if mnt.startswith((str(self.data_dir), str(self.run_dir))):
                    found.append(f"mount {mnt}")
        rec = self.data_dir / "runtime" / "sandboxes"
        if rec.is_dir() and any(rec.iterdir()):
            found.append(f"sandbox records {sorted(p.name for p in rec.iterdir())}")
        if os.geteuid() == 0:
            for table in ("nat", "filter"):
                out = subprocess.run(["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True).stdout
                found += [f"iptables {ln}" for ln in out.splitlines() if f"kybernetes {self.bridge}" in ln]
        return found


def new_agent(server: Server, tmp: Path, rootless: bool, extra: list[str] | None = None) -> Agent:
    tag = uuid.uuid4().hex[:6]
    return Agent(
        server=server,
        data_dir=tmp / f"agent-{tag}",
        run_dir=tmp / f"run-{tag}",
        node=f"kyb-test-{tag}",
        bridge=f"kyt{tag}",
        cidr=f"10.{random.randint(200, 250)}.{random.randint(0, 255)}.0/24",
        cgroup_root=f"kybtest-{tag}",
        rootless=rootless,
        extra=extra or [],
    )


def free_service_block() -> str:
    """A service /24 no proxy on this host DNATs yet (concurrent clusters must not answer each other's VIPs)."""
    import re
    import shutil

    used: set[str] = set()
    if shutil.which("nft") and os.geteuid() == 0:
        out = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True, timeout=20).stdout
        used = set(re.findall(r"10\.43\.(\d+)\.", out))
    free = [n for n in range(100, 251) if str(n) not in used]
    return f"10.43.{random.choice(free or list(range(100, 251)))}.0/24"


@pytest.fixture(scope="module")
def kserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # A node name of its own: the server's service proxy names its nftables table after it, and servers of other
    # test runs on this host (default node name: the hostname) must not replace ours.
    args = ["--disable-agent", "--disable-scheduler", "--disable-ingress", "--service-cidr", free_service_block(),
            "--node-name", f"kybk-{uuid.uuid4().hex[:6]}"]
    with running_server(tmp_path_factory.mktemp("kyb-kubelet"), "sqlite", extra_args=args) as srv:
        yield srv


def _agent_fixture(rootless: bool) -> Callable[..., Iterator[Agent]]:
    def fixture(kserver: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
        if not rootless:
            need_root()
        agent = new_agent(kserver, tmp_path_factory.mktemp("agent"), rootless)
        agent.start()
        try:
            yield agent
        finally:
            agent.stop()
            left = agent.leftovers()
            assert not left, "the agent left things behind:\n" + "\n".join(left) + "\n" + "".join(agent.output[-80:])

    return fixture


root_agent = pytest.fixture(scope="module")(_agent_fixture(False))
rootless_agent = pytest.fixture(scope="module")(_agent_fixture(True))


@pytest.fixture(scope="module", params=["root", "rootless"])
def agent(request: pytest.FixtureRequest, kserver: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """An agent in each mode (root mode skips without root)."""
    yield from _agent_fixture(request.param == "rootless")(kserver, tmp_path_factory)


@pytest.fixture
async def api(kserver: Server) -> AsyncIterator[Client]:
    c = client_from_kubeconfig(kserver.kubeconfig)
    yield c
    await c.close()


@pytest.fixture
async def ns(api: Client) -> AsyncIterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    await api.create(resource_path("", "v1", "namespaces"), {"metadata": {"name": name}})
    yield name
    # Pods go through graceful deletion on the node; wait for them so the agent's teardown sees no pods.
    pods = await api.get(resource_path("", "v1", "pods", namespace=name))
    for p in pods.get("items") or []:
        with contextlib.suppress(ApiError):
            await api.delete(resource_path("", "v1", "pods", namespace=name, name=p["metadata"]["name"]),
                             {"gracePeriodSeconds": 1})
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while loop.time() < deadline:
        if not (await api.get(resource_path("", "v1", "pods", namespace=name))).get("items"):
            break
        await asyncio.sleep(0.2)
    with contextlib.suppress(ApiError):
        await api.delete(resource_path("", "v1", "namespaces", name=name))


def pod_manifest(name: str, node: str, containers: list[Obj], **spec: Any) -> Obj:
    for c in containers:
        c.setdefault("image", "host")
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"nodeName": node, "containers": containers, "terminationGracePeriodSeconds": 2, **spec},
    }


async def create_pod(api: Client, ns: str, manifest: Obj) -> Obj:
    return await api.create(resource_path("", "v1", "pods", namespace=ns), manifest)


async def get_pod(api: Client, ns: str, name: str) -> Obj | None:
    try:
        return await api.get(resource_path("", "v1", "pods", namespace=ns, name=name))
    except ApiError as e:
        if e.status == 404:
            return None
        raise


async def wait_pod(
    api: Client, ns: str, name: str, pred: Callable[[Obj | None], bool], timeout: float = 30.0, what: str = ""
) -> Obj | None:
    """Watch the pod until `pred(pod)` holds (pod None: deleted); fails after `timeout` with the last state seen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Obj | None = None
    path = resource_path("", "v1", "pods", namespace=ns)
    while True:
        lst = await api.get(path, fieldSelector=f"metadata.name={name}")
        items = lst.get("items") or []
        last = items[0] if items else None
        if pred(last):
            return last
        rv = str((lst.get("metadata") or {}).get("resourceVersion", ""))
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"timed out waiting for pod {ns}/{name} {what}; last seen:\n{_brief(last)}")
        try:
            async with asyncio.timeout(remaining):
                async for ev in api.watch(path, rv, timeout_seconds=max(1, int(remaining) + 1),
                                          fieldSelector=f"metadata.name={name}"):
                    if ev.get("type") == "BOOKMARK":
                        continue
                    if ev.get("type") == "ERROR":
                        break
                    last = None if ev.get("type") == "DELETED" else ev.get("object")
                    if pred(last):
                        return last
        except TimeoutError:
            raise AssertionError(f"timed out waiting for pod {ns}/{name} {what}; last seen:\n{_brief(last)}") from None


async def wait_event(api: Client, ns: str, pred: Callable[[Obj], bool], timeout: float, what: str) -> Obj:
    """Watch the namespace's Events until one satisfies `pred`."""
    path = resource_path("", "v1", "events", namespace=ns)
    lst = await api.get(path)
    for e in lst.get("items") or []:
        if pred(e):
            return dict(e)
    try:
        async with asyncio.timeout(timeout):
            rv = str((lst.get("metadata") or {}).get("resourceVersion", ""))
            async for ev in api.watch(path, rv, timeout_seconds=int(timeout) + 1):
                obj = ev.get("object") or {}
                if ev.get("type") in ("ADDED", "MODIFIED") and pred(obj):
                    return dict(obj)
    except TimeoutError:
        pass
    raise AssertionError(f"no event {what} within {timeout}s")


def _brief(pod: Obj | None) -> str:
    if pod is None:
        return "(deleted)"
    import json

    return json.dumps(pod.get("status"), indent=1)[:4000]


def ready(pod: Obj | None) -> bool:
    return pod is not None and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions") or []
    )


def cstatus(pod: Obj | None, name: str) -> Obj:
    for s in ((pod or {}).get("status") or {}).get("containerStatuses") or []:
        if s.get("name") == name:
            return dict(s)
    return {}


def runtime_record(agent: Agent, container_id: str) -> Obj:
    import json

    cid = container_id.split("://", 1)[-1]
    return dict(json.loads((agent.data_dir / "runtime" / "containers" / f"{cid}.json").read_text()))


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X")


PY = sys.executable


def wait_until(pred: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll `pred` until it holds; fail with `what` after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


async def eventually(pred: Callable[[], bool], timeout: float, what: str) -> None:
    await asyncio.to_thread(wait_until, pred, timeout, what)


def read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
