"""The real kubectl (1.33 and 1.27) against a real kyb server, on both storage backends."""

from __future__ import annotations

import json
import subprocess
import textwrap
import time

import pytest

from tests.support.cluster import Server, kubectl_path

pytestmark = pytest.mark.e2e

VERSIONS = ["1.33", "1.27"]

MANIFEST = textwrap.dedent(
    """
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: cfg, labels: {app: demo}}
    data: {a: "1"}
    ---
    apiVersion: v1
    kind: Secret
    metadata: {name: sec}
    stringData: {password: hunter2}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: svc}
    spec:
      selector: {app: web}
      ports: [{port: 80, targetPort: 8080}]
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: pod, labels: {app: web}}
    spec:
      containers: [{name: main, image: busybox, command: ["sleep", "3600"]}]
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      replicas: 2
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers: [{name: web, image: nginx}]
    """
)


@pytest.mark.parametrize("version", VERSIONS)
def test_version_and_discovery(cluster: Server, version: str) -> None:
    out = cluster.kubectl("version", "-o", "json", version=version).stdout
    info = json.loads(out)
    assert info["serverVersion"]["gitVersion"] == "v1.33.1"
    res = cluster.kubectl("api-resources", version=version).stdout
    lines = {ln.split()[0]: ln for ln in res.splitlines()[1:]}
    assert "po" in lines["pods"] and "Pod" in lines["pods"]
    assert "deploy" in lines["deployments"] and "apps/v1" in lines["deployments"]
    assert "false" in lines["namespaces"] and "ns" in lines["namespaces"]
    for group in ("batch/v1", "autoscaling/v2", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1",
                  "storage.k8s.io/v1", "coordination.k8s.io/v1", "discovery.k8s.io/v1", "events.k8s.io/v1",
                  "apiextensions.k8s.io/v1", "admissionregistration.k8s.io/v1", "policy/v1"):
        assert group in cluster.kubectl("api-versions", version=version).stdout


@pytest.mark.parametrize("version", VERSIONS)
def test_create_get_describe_label_patch_delete(cluster: Server, namespace: str, version: str) -> None:
    k = lambda *a, **kw: cluster.kubectl("-n", namespace, *a, version=version, **kw)  # noqa: E731
    created = k("create", "-f", "-", input=MANIFEST).stdout
    for line in ("configmap/cfg created", "secret/sec created", "service/svc created", "pod/pod created",
                 "deployment.apps/web created"):
        assert line in created
    listing = k("get", "cm,secret,svc,pod,deploy").stdout
    assert "configmap/cfg" in listing and "deployment.apps/web" in listing
    pod_line = next(ln for ln in k("get", "pods").stdout.splitlines() if ln.startswith("pod "))
    assert "/1" in pod_line and any(st in pod_line for st in ("Pending", "ContainerCreating", "Running"))
    svc = json.loads(k("get", "svc", "svc", "-o", "json").stdout)
    assert svc["spec"]["clusterIP"] and svc["metadata"]["resourceVersion"]
    assert "Name:" in k("describe", "pod", "pod").stdout
    assert "Selector:" in k("describe", "deploy", "web").stdout
    assert "labeled" in k("label", "cm", "cfg", "tier=backend").stdout
    assert "configmap/cfg annotate" in k("annotate", "cm", "cfg", "note=hello").stdout  # 1.27 prints "annotate"
    assert "cfg" in k("get", "cm", "-l", "tier=backend", "-o", "name").stdout
    assert k("get", "cm", "-l", "tier=frontend", "-o", "name").stdout.strip() == ""
    k("patch", "cm", "cfg", "--type=merge", "-p", '{"data":{"b":"2"}}')
    k("patch", "cm", "cfg", "--type=json", "-p", '[{"op":"add","path":"/data/c","value":"3"}]')
    cm = json.loads(k("get", "cm", "cfg", "-o", "json").stdout)
    assert cm["data"] == {"a": "1", "b": "2", "c": "3"}
    assert cm["metadata"]["labels"]["tier"] == "backend"
    assert cm["metadata"]["annotations"]["note"] == "hello"
    k("patch", "deploy", "web", "--type=merge", "-p", '{"spec":{"replicas":5}}')
    dep = json.loads(k("get", "deploy", "web", "-o", "json").stdout)
    assert dep["spec"]["replicas"] == 5 and dep["metadata"]["generation"] == 2
    k("delete", "cm", "cfg")
    assert "NotFound" in k("get", "cm", "cfg", check=False).stderr
    # The rest, dependents first (foreground) and waiting for each object to be gone.
    k("delete", "-f", "-", "--cascade=foreground", "--ignore-not-found", "--timeout=90s", input=MANIFEST, timeout=120)
    assert k("get", "pods,deploy,rs,svc,secret", "-o", "name").stdout.strip() == ""


@pytest.mark.parametrize("version", VERSIONS)
def test_namespace_lifecycle(cluster: Server, version: str) -> None:
    name = f"life-{version.replace('.', '')}"
    cluster.kubectl("create", "namespace", name, version=version)
    cluster.kubectl("-n", name, "create", "configmap", "inside", "--from-literal=x=y", version=version)
    assert "Active" in cluster.kubectl("get", "ns", name, version=version).stdout
    cluster.kubectl("delete", "namespace", name, "--timeout=60s", version=version)
    assert "NotFound" in cluster.kubectl("get", "ns", name, check=False, version=version).stderr


def test_create_generators_send_protobuf_on_1_33(cluster: Server, namespace: str) -> None:
    k = lambda *a: cluster.kubectl("-n", namespace, *a)  # noqa: E731
    k("create", "configmap", "gen", "--from-literal=a=b")
    k("create", "secret", "generic", "gsec", "--from-literal=k=v")
    k("create", "deployment", "gdep", "--image=nginx", "--replicas=2")
    k("create", "serviceaccount", "gsa")
    cm = json.loads(k("get", "cm", "gen", "-o", "json").stdout)
    assert cm["data"] == {"a": "b"}
    dep = json.loads(k("get", "deploy", "gdep", "-o", "json").stdout)
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"


def test_get_watch_streams_changes(cluster: Server, namespace: str) -> None:
    exe = kubectl_path("1.33")
    env_cache = cluster.cache_dir
    assert env_cache is not None
    proc = subprocess.Popen(
        [exe, f"--cache-dir={env_cache / 'watch'}", "-n", namespace, "get", "configmaps", "-w",
         "--output-watch-events", "--request-timeout=30s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"KUBECONFIG": str(cluster.kubeconfig), "HOME": str(env_cache), "PATH": "/usr/bin:/bin"},
    )
    try:
        assert proc.stdout is not None

        def next_event() -> str:
            while True:
                line = proc.stdout.readline()  # type: ignore[union-attr]
                assert line, "kubectl get -w ended early"
                if not line.startswith(("EVENT", "NAME")) and "watched" in line:
                    return line

        cluster.kubectl("-n", namespace, "create", "configmap", "watched", "--from-literal=v=1")
        added = next_event()
        assert "ADDED" in added and "watched" in added
        cluster.kubectl("-n", namespace, "patch", "configmap", "watched", "--type=merge", "-p", '{"data":{"w":"2"}}')
        modified = next_event()
        assert modified.split()[:3] == ["MODIFIED", "watched", "2"]  # EVENT NAME DATA
        cluster.kubectl("-n", namespace, "delete", "configmap", "watched")
        deleted = next_event()
        assert "DELETED" in deleted and "watched" in deleted
    finally:
        proc.kill()
        proc.wait(10)


def test_errors_are_status_objects(cluster: Server, namespace: str) -> None:
    res = cluster.kubectl("-n", namespace, "get", "pod", "nope", check=False)
    assert res.returncode != 0 and 'pods "nope" not found' in res.stderr
    bad = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n"
    res = cluster.kubectl("-n", namespace, "create", "-f", "-", input=bad, check=False)
    assert "is invalid" in res.stderr and "metadata.name" in res.stderr
    cluster.kubectl("-n", namespace, "create", "configmap", "dup")
    res = cluster.kubectl("-n", namespace, "create", "configmap", "dup", check=False)
    assert res.returncode == 1 and 'configmaps "dup" already exists' in res.stderr
    res = cluster.kubectl("get", "widgets", check=False)
    assert 'the server doesn\'t have a resource type "widgets"' in res.stderr
    # the store is intact
    assert "dup" in cluster.kubectl("-n", namespace, "get", "cm", "-o", "name").stdout
    _ = time
