"""A kyb server plus a streaming node: a kubelet server in this process, serving pods of the test runtime.

The node is registered through the API like any kubelet would (addresses, daemonEndpoints port), so the API
server's proxy finds it the normal way; pods are created with `spec.nodeName` set to it and their status written
through pods/status.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import subprocess
import threading
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from kybernetes.streaming.kubeletserver import KubeletServer, ensure_serving_certificate, serving_ssl_context
from tests.streaming.hostruntime import FakeHostProcessRuntime
from tests.support.cluster import Server, kubectl_path, running_server

T = TypeVar("T")


class LoopThread:
    """An asyncio loop in a thread, so sync tests can run kubectl while the kubelet server serves."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class StreamEnv:
    server: Server
    loop: LoopThread
    runtime: FakeHostProcessRuntime
    kubelet: KubeletServer
    node: str

    def kubectl_cmd(self, *args: str, version: str = "1.33") -> tuple[list[str], dict[str, str]]:
        """argv and environment to run kubectl yourself (Popen, script) against the server."""
        self.server.kubectl("version", "--client", version=version)  # makes the cache dir
        assert self.server.cache_dir is not None
        env = dict(os.environ)
        env.update({"KUBECONFIG": str(self.server.kubeconfig), "HOME": str(self.server.cache_dir)})
        return [kubectl_path(version), f"--cache-dir={self.server.cache_dir / version}", *args], env

    def run_pod(self, name: str, containers: list[dict[str, Any]], annotations: dict[str, str] | None = None,
                namespace: str = "default", labels: dict[str, str] | None = None) -> dict[str, Any]:
        """Create the pod on our node, start it in the runtime and report it Running."""
        for c in containers:
            c.setdefault("image", "busybox")
        manifest = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {},
                         "labels": labels or {}},
            "spec": {"nodeName": self.node, "containers": containers, "terminationGracePeriodSeconds": 0},
        }
        self.server.kubectl("create", "-f", "-", input=json.dumps(manifest))
        pod: dict[str, Any] = json.loads(self.server.kubectl("get", "pod", name, "-n", namespace, "-o", "json").stdout)
        self.loop.run(self.runtime.start_pod(pod))
        self.set_status(name, {c["name"]: {"state": {"running": {"startedAt": _now()}}} for c in containers},
                        namespace)
        return pod

    def set_status(self, name: str, containers: dict[str, dict[str, Any]], namespace: str = "default",
                   phase: str = "Running") -> None:
        statuses = []
        for cname, st in containers.items():
            cs = {"name": cname, "image": "busybox", "imageID": "", "ready": True, "started": True,
                  "restartCount": st.get("restartCount", 0), "containerID": f"fake://{name}-{cname}",
                  "state": st.get("state", {})}
            if "lastState" in st:
                cs["lastState"] = st["lastState"]
            statuses.append(cs)
        ready = "True" if phase == "Running" else "False"
        conditions = [{"type": t, "status": ready, "lastTransitionTime": _now()}
                      for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")]
        patch = {"status": {"phase": phase, "containerStatuses": statuses, "podIP": "127.0.0.1",
                            "podIPs": [{"ip": "127.0.0.1"}], "hostIP": "127.0.0.1", "conditions": conditions}}
        self.server.kubectl("patch", "pod", name, "-n", namespace, "--subresource=status", "--type=merge",
                            "-p", json.dumps(patch))

    def uid(self, name: str, namespace: str = "default") -> str:
        uid = self.runtime.find_pod(namespace, name)
        assert uid is not None
        return uid


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def stream_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamEnv]:
    tmp = tmp_path_factory.mktemp("kyb-streams")
    with running_server(tmp / "server", "sqlite") as srv:
        loop = LoopThread()
        runtime = FakeHostProcessRuntime(tmp / "pods")
        node = f"stream-node-{uuid.uuid4().hex[:6]}"
        pki_dir = srv.data_dir / "pki"
        crt, key = ensure_serving_certificate(pki_dir, node, ["127.0.0.1"], out_dir=tmp / "kubelet")
        kubelet = KubeletServer(runtime, address="127.0.0.1", port=0,
                                ssl_context=serving_ssl_context(crt, key, pki_dir / "ca.crt"))
        loop.run(kubelet.start())
        try:
            node_obj = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}}
            srv.kubectl("create", "-f", "-", input=json.dumps(node_obj))
            status = {"status": {
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": node}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet.port}},
            }}
            srv.kubectl("patch", "node", node, "--subresource=status", "--type=merge", "-p", json.dumps(status))
            yield StreamEnv(srv, loop, runtime, kubelet, node)
        finally:
            loop.run(runtime.stop_all())
            loop.run(kubelet.stop())
            loop.stop()


def popen_kubectl(env: StreamEnv, *args: str, version: str = "1.33", extra_env: dict[str, str] | None = None,
                  **kw: Any) -> subprocess.Popen[str]:
    cmd, e = env.kubectl_cmd(*args, version=version)
    if extra_env:
        e.update(extra_env)
    return subprocess.Popen(cmd, env=e, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)

