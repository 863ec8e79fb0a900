"""Environment (literals, $(VAR) expansion, downward API, ConfigMap/Secret keys, envFrom) and volumes, in both modes."""

from __future__ import annotations

import base64
import json
import shutil
import uuid
from pathlib import Path

from kybernetes.client.rest import Client, resource_path
from tests.kubelet.conftest import (
    PY,
    Agent,
    create_pod,
    cstatus,
    pod_manifest,
    read,
    ready,
    wait_event,
    wait_pod,
)


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


REPORT = r"""
import json, os, stat, sys, time
base = sys.argv[1]
files = {}
for root, dirs, names in os.walk(base, followlinks=True):
    dirs[:] = [d for d in dirs if not d.startswith('..')]
    for n in names:
        p = os.path.join(root, n)
        files[os.path.relpath(p, base)] = [open(p).read(), oct(stat.S_IMODE(os.stat(p).st_mode))]
env = {k: v for k, v in os.environ.items() if k.startswith(('E_', 'CM_'))}
print(json.dumps({"env": env, "argv": sys.argv[2:], "files": files}), flush=True)
while True: time.sleep(1)
"""


async def test_env_and_volumes(api: Client, ns: str, agent: Agent) -> None:
    await api.create(resource_path("", "v1", "configmaps", namespace=ns),
                     {"metadata": {"name": "cfg"}, "data": {"color": "blue", "size": "L", "bad-key!": "x"}})
    await api.create(resource_path("", "v1", "secrets", namespace=ns),
                     {"metadata": {"name": "sec"}, "data": {"password": b64("s3cret")}})
    base = f"/tmp/kybt-{uuid.uuid4().hex[:8]}"
    c = {
        "name": "c",
        "command": [PY, "-c", REPORT, base],
        "args": ["$(E_COLOR)", "$$(E_COLOR)", "$(UNDEFINED)"],
        "resources": {"limits": {"memory": "256Mi", "cpu": "1500m"}},
        "env": [
            {"name": "E_COLOR", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "color"}}},
            {"name": "E_MIX", "value": "$(E_COLOR)-$$-$$(E_COLOR)-$(NOPE)"},
            {"name": "E_PASS", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "password"}}},
            {"name": "E_OPT", "valueFrom": {"secretKeyRef": {"name": "nosuch", "key": "k", "optional": True}}},
            {"name": "E_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "E_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "E_LABEL", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['tier']"}}},
            {"name": "E_NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "E_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "E_MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
            {"name": "E_CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
        ],
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CM_"}],
        "volumeMounts": [
            {"name": "cm", "mountPath": f"{base}/cm"},
            {"name": "sec", "mountPath": f"{base}/sec"},
            {"name": "down", "mountPath": f"{base}/down"},
            {"name": "proj", "mountPath": f"{base}/proj"},
        ],
    }
    pod = pod_manifest(
        "envvol", agent.node, [c],
        volumes=[
            {"name": "cm", "configMap": {"name": "cfg", "items": [{"key": "color", "path": "sub/colour", "mode": 0o600}]}},
            {"name": "sec", "secret": {"secretName": "sec", "defaultMode": 0o400}},
            {"name": "down", "downwardAPI": {"items": [
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory", "divisor": "1Mi"}},
            ]}},
            {"name": "proj", "projected": {"sources": [
                {"configMap": {"name": "cfg", "items": [{"key": "size", "path": "size"}]}},
                {"secret": {"name": "sec"}},
                {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
            ]}},
        ],
    )
    pod["metadata"]["labels"] = {"tier": "web", "app": "x"}
    await create_pod(api, ns, pod)
    p = await wait_pod(api, ns, "envvol", ready, 30, "to be Ready")
    assert p is not None
    out = agent.server.kubectl("logs", "-n", ns, "envvol").stdout
    report = json.loads(out.splitlines()[0])
    env = report["env"]
    assert env["E_COLOR"] == "blue"
    assert env["E_MIX"] == "blue-$-$(E_COLOR)-$(NOPE)"
    assert env["E_PASS"] == "s3cret"
    assert "E_OPT" not in env
    assert env["E_NAME"] == "envvol" and env["E_NS"] == ns and env["E_LABEL"] == "web"
    assert env["E_NODE"] == agent.node and env["E_IP"] == p["status"]["podIP"]
    assert env["E_MEM"] == "256" and env["E_CPU"] == "2"
    assert env["CM_color"] == "blue" and env["CM_size"] == "L" and "CM_bad-key!" not in env
    assert report["argv"] == ["blue", "$(E_COLOR)", "$(UNDEFINED)"]
    files = report["files"]
    assert files["cm/sub/colour"] == ["blue", "0o600"]
    assert files["sec/password"] == ["s3cret", "0o400"]
    assert files["down/labels"][0] == 'app="x"\ntier="web"'
    assert files["down/name"][0] == "envvol" and files["down/mem"][0] == "256"
    assert files["proj/size"][0] == "L" and files["proj/password"][0] == "s3cret" and files["proj/ns"][0] == ns
    assert files["proj/token"][0]


async def test_missing_configmap_and_secret_hold_the_pod_until_created(api: Client, ns: str, agent: Agent) -> None:
    base = f"/tmp/kybt-{uuid.uuid4().hex[:8]}"
    c = {
        "name": "c",
        "command": [PY, "-c", "import time\nwhile True: time.sleep(1)"],
        "env": [{"name": "E_S", "valueFrom": {"secretKeyRef": {"name": "later-sec", "key": "k"}}}],
        "volumeMounts": [{"name": "cm", "mountPath": f"{base}/cm"}],
    }
    await create_pod(api, ns, pod_manifest("later", agent.node, [c],
                                           volumes=[{"name": "cm", "configMap": {"name": "later-cm"}}]))
    p = await wait_pod(api, ns, "later", lambda p: bool((p or {}).get("status", {}).get("containerStatuses")), 20)
    assert cstatus(p, "c")["state"]["waiting"]["reason"] == "ContainerCreating"

    await wait_event(api, ns, lambda e: e["reason"] == "FailedMount" and 'configmap "later-cm" not found'
                     in e["message"], 20, "FailedMount")
    await api.create(resource_path("", "v1", "configmaps", namespace=ns), {"metadata": {"name": "later-cm"}, "data": {}})
    p = await wait_pod(
        api, ns, "later",
        lambda p: cstatus(p, "c").get("state", {}).get("waiting", {}).get("reason") == "CreateContainerConfigError",
        20, "to wait for its secret",
    )
    assert 'secret "later-sec" not found' in cstatus(p, "c")["state"]["waiting"]["message"]
    await api.create(resource_path("", "v1", "secrets", namespace=ns),
                     {"metadata": {"name": "later-sec"}, "data": {"k": b64("v")}})
    await wait_pod(api, ns, "later", ready, 20, "to start once its secret exists")


async def test_termination_message_working_dir_and_host_path(api: Client, ns: str, agent: Agent) -> None:
    base = f"/tmp/kybt-{uuid.uuid4().hex[:8]}"
    host_dir = f"{base}-host"
    writer = {
        "name": "msg",
        "workingDir": "/tmp",
        "command": ["sh", "-c", f"pwd > {base}/data/cwd; echo from-host > {base}/data/x; "
                    "echo 'all done' > /dev/termination-log; exit 3"],
        "volumeMounts": [{"name": "h", "mountPath": f"{base}/data"}],
    }
    fallback = {"name": "fallback", "terminationMessagePolicy": "FallbackToLogsOnError",
                "command": ["sh", "-c", "echo last words; exit 4"]}
    await create_pod(api, ns, pod_manifest(
        "term", agent.node, [writer, fallback], restartPolicy="Never",
        volumes=[{"name": "h", "hostPath": {"path": host_dir, "type": "DirectoryOrCreate"}}],
    ))
    p = await wait_pod(api, ns, "term", lambda p: (p or {}).get("status", {}).get("phase") == "Failed", 30)
    try:
        assert read(Path(host_dir) / "cwd").strip() == "/tmp"
        assert read(Path(host_dir) / "x").strip() == "from-host"
        t = cstatus(p, "msg")["state"]["terminated"]
        if not agent.rootless:  # rootless pods cannot have a file mounted at /dev/termination-log
            assert t["exitCode"] == 3 and t["message"] == "all done\n"
        assert cstatus(p, "fallback")["state"]["terminated"]["message"] == "last words\n"
    finally:
        shutil.rmtree(host_dir, ignore_errors=True)
