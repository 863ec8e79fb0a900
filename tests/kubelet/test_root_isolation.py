"""Root mode: cgroup limits (OOM kill, CPU quota), private mounts, pid namespaces, tmpfs volumes, stats."""

from __future__ import annotations

import json
import os
import ssl
import urllib.request
from pathlib import Path

import pytest
import yaml

from kybernetes.client.rest import Client
from tests.kubelet.conftest import (
    PY,
    Agent,
    create_pod,
    cstatus,
    pod_manifest,
    read,
    ready,
    runtime_record,
    wait_pod,
)

pytestmark = [pytest.mark.root, pytest.mark.e2e]


async def test_memory_limit_oom_kills_with_reason_oomkilled(api: Client, ns: str, root_agent: Agent) -> None:
    hog = {
        "name": "hog",
        "command": [PY, "-c", "import time\nb = b'x' * (200 * 1024 * 1024)\ntime.sleep(60)"],
        "resources": {"limits": {"memory": "64Mi"}},
    }
    await create_pod(api, ns, pod_manifest("oom", root_agent.node, [hog], restartPolicy="Never"))
    pod = await wait_pod(api, ns, "oom", lambda p: (p or {}).get("status", {}).get("phase") == "Failed", 30,
                         "to fail")
    term = cstatus(pod, "hog")["state"]["terminated"]
    assert term["reason"] == "OOMKilled" and term["exitCode"] == 137, term


async def test_pid_namespace_mounts_and_cpu_quota(api: Client, ns: str, root_agent: Agent) -> None:
    mount = "/tmp/kyb-iso-test/data"
    c = {
        "name": "c",
        "command": [PY, "-c", "import time\nwhile True: time.sleep(1)"],
        "resources": {"limits": {"cpu": "250m", "memory": "100Mi"}, "requests": {"cpu": "100m"}},
        "volumeMounts": [{"name": "mem", "mountPath": mount}],
    }
    await create_pod(api, ns, pod_manifest("iso", root_agent.node, [c],
                                           volumes=[{"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}}]))
    pod = await wait_pod(api, ns, "iso", ready, 20, "to be Ready")
    k = root_agent.server.kubectl
    script = (
        "import os\n"
        "print(' '.join(sorted((p for p in os.listdir('/proc') if p.isdigit()), key=int)))\n"
        f"print([l.split()[2] for l in open('/proc/self/mounts') if ' {mount} ' in l])\n"
        f"os.statvfs('{mount}')\n"
        "print(open('/proc/self/cgroup').read().count('kybtest-'))\n"
        "print(sum(' nsfs ' in l or 'kubernetes.io~' in l for l in open('/proc/self/mountinfo')))\n"
    )
    out = k("exec", "-n", ns, "iso", "--", PY, "-c", script).stdout.splitlines()
    # The container's command is pid 1 of its own pid namespace, and exec'd processes join that namespace.
    pids = [int(p) for p in out[0].split()]
    assert pids[0] == 1 and len(pids) < 6, out
    assert out[1] == "['tmpfs']", out
    assert int(out[2]) >= 3, "exec joins the container's cgroups"
    assert out[3] == "0", "no other pod's namespace files or volumes are mounted in the container"
    assert not is_mount(mount), "the volume is mounted only inside the container"
    rec = runtime_record(root_agent, cstatus(pod, "c")["containerID"])
    uid = pod["metadata"]["uid"]  # type: ignore[index]
    base = f"/sys/fs/cgroup/cpu/{root_agent.cgroup_root}/pod{uid}/{rec['id']}"
    assert read(Path(f"{base}/cpu.cfs_quota_us")).strip() == "25000"
    assert read(Path(f"{base}/cpu.shares")).strip() == "102"
    mem = f"/sys/fs/cgroup/memory/{root_agent.cgroup_root}/pod{uid}/{rec['id']}/memory.limit_in_bytes"
    assert read(Path(mem)).strip() == str(100 * 1024 * 1024)
    # stats summary from the kubelet's HTTPS API (admin client certificate: system:masters)
    summary = _kubelet_get(root_agent, "/stats/summary")
    mine = next(p for p in summary["pods"] if p["podRef"]["uid"] == uid)
    cstats = mine["containers"][0]
    assert cstats["name"] == "c" and cstats["memory"]["workingSetBytes"] > 1_000_000
    assert cstats["cpu"]["usageCoreNanoSeconds"] > 0
    assert mine["network"]["name"] == "eth0"
    assert summary["node"]["nodeName"] == root_agent.node


def is_mount(path: str) -> bool:
    return os.path.ismount(path)


def _kubelet_get(agent: Agent, path: str) -> dict:  # type: ignore[type-arg]
    cfg = yaml.safe_load(agent.server.kubeconfig.read_text())
    user = cfg["users"][0]["user"]
    import base64
    import tempfile

    d = Path(tempfile.mkdtemp())
    (d / "c.crt").write_bytes(base64.b64decode(user["client-certificate-data"]))
    (d / "c.key").write_bytes(base64.b64decode(user["client-key-data"]))
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(str(d / "c.crt"), str(d / "c.key"))
    port = int(agent.output[0].rsplit("kubelet port", 1)[1].strip(" )\n"))
    with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=ctx, timeout=10) as r:
        data: dict = json.loads(r.read())  # type: ignore[type-arg]
    for f in d.iterdir():
        f.unlink()
    d.rmdir()
    return data
