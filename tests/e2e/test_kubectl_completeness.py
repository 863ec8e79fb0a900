"""kubectl completeness: the everyday commands beyond CRUD, with the real kubectl 1.33 and 1.27.

apply (client- and server-side), edit, diff, explain, the get output formats, the `create` generators (protobuf
bodies on 1.33, JSON on 1.27), auth can-i / whoami / create token, strict field validation, defaults as kubectl
shows them, printed ages, the Python client's create_from_yaml and metadata-only lists, and the Event TTL.
"""

from __future__ import annotations

import json
import re
import stat
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import CompletedProcess

import pytest
import yaml
from kubernetes import client, config, utils

from tests.support.cluster import Server, running_server

pytestmark = pytest.mark.e2e

VERSIONS = ["1.33", "1.27"]
Kubectl = Callable[..., CompletedProcess[str]]

DEPLOYMENT = textwrap.dedent(
    """
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, labels: {app: web}}
    spec:
      replicas: 2
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers:
          - name: web
            image: nginx:1.25
            env: [{name: A, value: "1"}, {name: B, value: "2"}]
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: cfg, labels: {tier: backend}}
    data: {a: "1", b: "2"}
    """
)


def in_ns(cluster: Server, namespace: str, version: str = "1.33") -> Kubectl:
    def k(*args: str, **kw: object) -> CompletedProcess[str]:
        return cluster.kubectl("-n", namespace, *args, version=version, **kw)  # type: ignore[arg-type]

    return k


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


# ------------------------------------------------------------------------------------------------- apply
@pytest.mark.parametrize("version", VERSIONS)
def test_apply_is_idempotent_and_prunes_removed_fields(
    cluster: Server, namespace: str, version: str, workdir: Path
) -> None:
    k = in_ns(cluster, namespace, version)
    manifest = workdir / "app.yaml"
    manifest.write_text(DEPLOYMENT)
    first = k("apply", "-f", str(manifest)).stdout
    assert "deployment.apps/web created" in first and "configmap/cfg created" in first
    again = k("apply", "-f", str(manifest)).stdout
    assert "deployment.apps/web unchanged" in again and "configmap/cfg unchanged" in again
    rv = json.loads(k("get", "deploy", "web", "-o", "json").stdout)["metadata"]["resourceVersion"]
    manifest.write_text(
        DEPLOYMENT.replace(', {name: B, value: "2"}', "").replace('data: {a: "1", b: "2"}', 'data: {a: "1"}')
    )
    third = k("apply", "-f", str(manifest)).stdout
    assert "deployment.apps/web configured" in third and "configmap/cfg configured" in third
    dep = json.loads(k("get", "deploy", "web", "-o", "json").stdout)
    assert dep["metadata"]["resourceVersion"] != rv
    assert dep["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"}]
    assert json.loads(k("get", "cm", "cfg", "-o", "json").stdout)["data"] == {"a": "1"}
    assert "unchanged" in k("apply", "-f", str(manifest)).stdout


def test_server_side_apply_conflicts_and_force(cluster: Server, namespace: str, workdir: Path) -> None:
    k = in_ns(cluster, namespace)
    cm = workdir / "cm.yaml"
    cm.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owned}\ndata: {a: '1'}\n")
    assert "serverside-applied" in k("apply", "--server-side", "-f", str(cm)).stdout
    assert "serverside-applied" in k("apply", "--server-side", "-f", str(cm)).stdout
    cm.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owned}\ndata: {a: '2'}\n")
    res = k("apply", "--server-side", "--field-manager=intruder", "-f", str(cm), check=False)
    assert res.returncode != 0
    assert 'conflict with "kubectl"' in res.stderr and ".data.a" in res.stderr and "--force-conflicts" in res.stderr
    k("apply", "--server-side", "--field-manager=intruder", "--force-conflicts", "-f", str(cm))
    live = json.loads(k("get", "cm", "owned", "-o", "json", "--show-managed-fields").stdout)
    assert live["data"] == {"a": "2"}
    owners = {m["manager"]: m for m in live["metadata"]["managedFields"]}
    assert "f:a" in json.dumps(owners["intruder"]["fieldsV1"])
    assert "f:a" not in json.dumps(owners.get("kubectl", {}).get("fieldsV1", {}))


# -------------------------------------------------------------------------------------------- edit, diff
def editor_script(workdir: Path, sed: str) -> str:
    script = workdir / "editor.sh"
    script.write_text(f"#!/bin/sh\nsed -i '{sed}' \"$1\"\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.mark.parametrize("version", VERSIONS)
def test_edit_through_an_editor(cluster: Server, namespace: str, version: str, workdir: Path) -> None:
    k = in_ns(cluster, namespace, version)
    k("create", "configmap", "ed", "--from-literal=color=blue")
    editor = editor_script(workdir, "s/color: blue/color: green/")
    out = k("edit", "configmap", "ed", env={"EDITOR": editor, "KUBE_EDITOR": editor}).stdout
    assert "configmap/ed edited" in out
    assert json.loads(k("get", "cm", "ed", "-o", "json").stdout)["data"] == {"color": "green"}
    unchanged = k("edit", "configmap", "ed", env={"EDITOR": editor, "KUBE_EDITOR": editor})
    assert "Edit cancelled, no changes made." in unchanged.stdout + unchanged.stderr


def test_edit_rejects_unknown_fields(cluster: Server, namespace: str, workdir: Path) -> None:
    k = in_ns(cluster, namespace)
    k("create", "configmap", "strict", "--from-literal=a=b")
    editor = editor_script(workdir, "s/^data:/bogus: 1\\ndata:/")
    env = {"EDITOR": editor, "KUBE_EDITOR": editor, "TMPDIR": str(workdir)}
    res = k("edit", "configmap", "strict", env=env, check=False)
    assert res.returncode != 0
    assert 'error: configmaps "strict" is invalid' in res.stderr
    # kubectl keeps the edit buffer and the rejected copy; the rejected copy carries the server's error.
    saved = [p.read_text() for p in workdir.glob("kubectl*-edit-*.yaml")]
    assert any('strict decoding error: unknown field "bogus"' in text for text in saved), saved
    assert json.loads(k("get", "cm", "strict", "-o", "json").stdout)["data"] == {"a": "b"}


def test_diff(cluster: Server, namespace: str, workdir: Path) -> None:
    k = in_ns(cluster, namespace)
    manifest = workdir / "app.yaml"
    manifest.write_text(DEPLOYMENT)
    k("apply", "-f", str(manifest))
    same = k("diff", "-f", str(manifest), check=False)
    assert same.returncode == 0 and same.stdout == ""
    manifest.write_text(DEPLOYMENT.replace("replicas: 2", "replicas: 3").replace('b: "2"', 'b: "two"'))
    changed = k("diff", "-f", str(manifest), check=False)
    assert changed.returncode == 1, changed.stderr
    assert "-  replicas: 2" in changed.stdout and "+  replicas: 3" in changed.stdout
    assert '+  b: two' in changed.stdout
    assert json.loads(k("get", "deploy", "web", "-o", "json").stdout)["spec"]["replicas"] == 2


@pytest.mark.parametrize("version", VERSIONS)
def test_explain(cluster: Server, version: str) -> None:
    out = cluster.kubectl("explain", "pod.spec.containers.resources", version=version).stdout
    assert "KIND:" in out and "Pod" in out
    assert "resources <ResourceRequirements>" in out or "RESOURCE: resources <Object>" in out
    assert "limits" in out and "requests" in out


# ---------------------------------------------------------------------------------------------------- get
def test_get_output_formats(cluster: Server, namespace: str, workdir: Path) -> None:
    k = in_ns(cluster, namespace)
    manifest = workdir / "app.yaml"
    manifest.write_text(DEPLOYMENT)
    k("apply", "-f", str(manifest))
    for name, tier in (("zeta", "front"), ("alpha", "back")):
        k("create", "configmap", name, "--from-literal=x=y")
        k("label", "configmap", name, f"tier={tier}")
    wide = k("get", "deploy", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1].split()[5:] == ["web", "nginx:1.25", "app=web"]
    as_yaml = yaml.safe_load(k("get", "deploy", "web", "-o", "yaml").stdout)
    assert as_yaml["kind"] == "Deployment" and "managedFields" not in as_yaml["metadata"]
    as_json = json.loads(k("get", "cm", "-o", "json").stdout)
    assert as_json["kind"] == "List" and {"alpha", "zeta", "cfg"} <= {i["metadata"]["name"] for i in as_json["items"]}
    assert k("get", "cm", "alpha", "-o", "jsonpath={.metadata.labels.tier}").stdout == "back"
    cols = k("get", "cm", "-l", "tier", "-o", "custom-columns=NAME:.metadata.name,TIER:.metadata.labels.tier").stdout
    assert [ln.split() for ln in cols.splitlines()] == [["NAME", "TIER"], ["alpha", "back"], ["cfg", "backend"], ["zeta", "front"]]
    assert k("get", "cm", "-l", "tier", "-o", "name").stdout.split() == ["configmap/alpha", "configmap/cfg", "configmap/zeta"]
    by_tier = k("get", "cm", "-l", "tier", "--sort-by=.metadata.labels.tier", "-o", "name").stdout.split()
    assert by_tier == ["configmap/alpha", "configmap/cfg", "configmap/zeta"]
    by_name = k("get", "cm", "-l", "tier in (front,back)", "--sort-by=.metadata.name").stdout.splitlines()
    assert by_name[1].startswith("alpha ") and by_name[2].startswith("zeta ")
    labeled = k("get", "cm", "-L", "tier", "--show-labels").stdout.splitlines()
    assert labeled[0].split() == ["NAME", "DATA", "AGE", "TIER", "LABELS"]
    row = next(ln.split() for ln in labeled if ln.startswith("zeta "))
    assert row[3:] == ["front", "tier=front"]
    root_ca = next(ln.split() for ln in labeled if ln.startswith("kube-root-ca.crt") or ln.startswith("cfg "))
    assert root_ca[-1] in ("<none>", "tier=backend")
    everywhere = cluster.kubectl("get", "cm", "-A").stdout.splitlines()
    assert everywhere[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert any(ln.split()[:2] == [namespace, "zeta"] for ln in everywhere)


def test_printed_ages_and_none(cluster: Server, namespace: str) -> None:
    k = in_ns(cluster, namespace)
    k("create", "configmap", "fresh")
    row = k("get", "cm", "fresh").stdout.splitlines()[1].split()
    assert re.fullmatch(r"\d+s", row[-1]), row
    seen = datetime.now(UTC) - timedelta(minutes=3, seconds=2)
    stamp = seen.strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "old"}, "type": "Normal", "reason": "Tested",
        "message": "three minutes ago", "involvedObject": {"kind": "ConfigMap", "name": "fresh", "namespace": namespace},
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1, "source": {"component": "e2e"},
    }
    k("create", "-f", "-", input=json.dumps(event))
    line = next(ln for ln in k("get", "events").stdout.splitlines() if "three minutes ago" in ln)
    assert re.match(r"3m\d+s\s", line), line
    cronjob = k("create", "cronjob", "cj", "--image=busybox", "--schedule=0 0 * * *", "--", "true")
    assert cronjob.returncode == 0
    assert "<none>" in k("get", "cronjob", "cj").stdout.splitlines()[1]


# --------------------------------------------------------------------------------------------- generators
@pytest.mark.parametrize("version", VERSIONS)
def test_create_generators(cluster: Server, namespace: str, version: str) -> None:
    k = in_ns(cluster, namespace, version)
    suffix = version.replace(".", "")
    commands = [
        ("create", "configmap", "cm", "--from-literal=a=b"),
        ("create", "secret", "generic", "sec", "--from-literal=p=q"),
        ("create", "deployment", "dep", "--image=nginx", "--replicas=2"),
        ("create", "job", "job", "--image=busybox", "--", "echo", "hi"),
        ("create", "cronjob", "cron", "--image=busybox", "--schedule=*/5 * * * *", "--", "echo", "hi"),
        ("create", "serviceaccount", "bot"),
        ("create", "role", "reader", "--verb=get,list", "--resource=pods"),
        ("create", "rolebinding", "reader", "--role=reader", "--serviceaccount", f"{namespace}:bot"),
        ("create", "clusterrole", f"nodes-{namespace}", "--verb=get", "--resource=nodes"),
        ("create", "clusterrolebinding", f"nodes-{namespace}", f"--clusterrole=nodes-{namespace}", "--group=ops"),
        ("create", "quota", "q", "--hard=pods=10,services=5"),
        ("create", "priorityclass", f"pc-{namespace}-{suffix}", "--value=1000", "--description=e2e"),
        ("create", "pdb", "pdb", "--selector=app=web", "--min-available=1"),
        ("create", "ingress", "ing", "--rule=example.com/path=svc:80"),
    ]
    for cmd in commands:
        assert "created" in k(*cmd).stdout, cmd
    assert "namespace/" in cluster.kubectl("create", "namespace", f"{namespace}-{suffix}", version=version).stdout
    cluster.kubectl("delete", "namespace", f"{namespace}-{suffix}", "--wait=false", version=version)
    token = k("create", "token", "bot").stdout.strip()
    assert token.count(".") == 2
    dep = json.loads(k("get", "deploy", "dep", "-o", "json").stdout)
    assert dep["spec"]["replicas"] == 2 and dep["spec"]["strategy"]["type"] == "RollingUpdate"
    job = json.loads(k("get", "job", "job", "-o", "json").stdout)
    assert job["spec"]["backoffLimit"] == 6
    assert job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"] == job["metadata"]["uid"]
    rb = json.loads(k("get", "rolebinding", "reader", "-o", "json").stdout)
    assert rb["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    pc = json.loads(cluster.kubectl("get", "priorityclass", f"pc-{namespace}-{suffix}", "-o", "json").stdout)
    assert pc["preemptionPolicy"] == "PreemptLowerPriority"
    ing = json.loads(k("get", "ingress", "ing", "-o", "json").stdout)
    assert ing["spec"]["rules"][0]["http"]["paths"][0]["pathType"] == "Exact"
    cluster.kubectl("delete", "clusterrolebinding,clusterrole", f"nodes-{namespace}", version=version)
    cluster.kubectl("delete", "priorityclass", f"pc-{namespace}-{suffix}", version=version)


# --------------------------------------------------------------------------------------------------- auth
@pytest.mark.parametrize("version", VERSIONS)
def test_auth_can_i_whoami_and_tokens(cluster: Server, namespace: str, version: str) -> None:
    k = in_ns(cluster, namespace, version)
    can = k("auth", "can-i", "create", "pods")
    assert can.stdout.strip() == "yes"
    listing = k("auth", "can-i", "--list").stdout
    assert "*.*" in listing and "[*]" in listing
    who = cluster.kubectl("auth", "whoami", version=version).stdout
    assert re.search(r"Username\s+kubernetes-admin", who) and "system:masters" in who
    ensure_service_account(k, "default")
    token = k("create", "token", "default").stdout.strip()
    as_sa = cluster.kubectl("auth", "whoami", f"--token={token}", version=version)
    assert re.search(rf"Username\s+system:serviceaccount:{namespace}:default", as_sa.stdout)
    assert f"system:serviceaccounts:{namespace}" in as_sa.stdout
    denied = cluster.kubectl("auth", "can-i", "delete", "nodes", f"--token={token}", version=version, check=False)
    # kubectl appends the authorizer's reason: "no - <reason>".
    assert denied.returncode == 1 and denied.stdout.startswith("no - ") and "RBAC" in denied.stdout
    short = k("create", "token", "default", "--duration=10s", check=False)
    assert short.returncode != 0 and "may not specify a duration less than 10 minutes" in short.stderr


def ensure_service_account(k: Kubectl, name: str) -> None:
    """`default` is made by the service-account controller; create it when that controller is not there."""
    deadline = time.monotonic() + 10
    while k("get", "serviceaccount", name, check=False).returncode != 0:
        if time.monotonic() > deadline:
            k("create", "serviceaccount", name)
            return
        time.sleep(0.2)


# ------------------------------------------------------------------------------------ validation, defaults
@pytest.mark.parametrize("version", VERSIONS)
def test_strict_field_validation(cluster: Server, namespace: str, version: str) -> None:
    k = in_ns(cluster, namespace, version)
    bad = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo}\ndata: {a: b}\nspec: {replicas: 1}\n"
    res = k("create", "-f", "-", input=bad, check=False)
    assert res.returncode != 0
    assert 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "spec"' in res.stderr
    warned = k("apply", "--validate=warn", "-f", "-", input=bad)
    assert 'Warning: unknown field "spec"' in warned.stderr
    stored = json.loads(k("get", "cm", "typo", "-o", "json").stdout)
    assert "spec" not in stored and stored["data"] == {"a": "b"}
    ignored = k("replace", "--validate=false", "-f", "-", input=bad)
    assert "Warning" not in ignored.stderr


def test_defaults_as_kubectl_shows_them(cluster: Server, namespace: str) -> None:
    k = in_ns(cluster, namespace)
    k("run", "solo", "--image=busybox:1.36", "--restart=Never", "--", "sleep", "3600")
    pod = json.loads(k("get", "pod", "solo", "-o", "json").stdout)
    spec = pod["spec"]
    assert (spec["dnsPolicy"], spec["schedulerName"], spec["terminationGracePeriodSeconds"]) == (
        "ClusterFirst", "default-scheduler", 30)
    assert spec["enableServiceLinks"] is True and spec["securityContext"] == {}
    assert (spec["priority"], spec["preemptionPolicy"]) == (0, "PreemptLowerPriority")
    assert {t["key"] for t in spec["tolerations"]} >= {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}
    c = spec["containers"][0]
    assert (c["imagePullPolicy"], c["terminationMessagePath"], c["terminationMessagePolicy"]) == (
        "IfNotPresent", "/dev/termination-log", "File")
    k("create", "service", "clusterip", "svc", "--tcp=80")
    svc = json.loads(k("get", "svc", "svc", "-o", "json").stdout)["spec"]
    assert (svc["sessionAffinity"], svc["internalTrafficPolicy"], svc["ports"][0]["targetPort"]) == ("None", "Cluster", 80)
    res = k("run", "vip", "--image=busybox", "--overrides", json.dumps({"spec": {"priorityClassName": "nope"}}), check=False)
    assert res.returncode != 0 and "no PriorityClass with name nope was found" in res.stderr
    assert "system-node-critical" in cluster.kubectl("get", "priorityclasses").stdout


# -------------------------------------------------------------------------------------------- python client
@pytest.fixture
def api(cluster: Server) -> Iterator[client.ApiClient]:
    c = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield c
    c.close()


def test_python_create_from_yaml_and_metadata_lists(api: client.ApiClient, namespace: str, workdir: Path) -> None:
    manifest = workdir / "multi.yaml"
    manifest.write_text(
        DEPLOYMENT
        + "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n"
    )
    created = utils.create_from_yaml(api, str(manifest), namespace=namespace)
    kinds = [type(o[0] if isinstance(o, list) else o).__name__ for o in created]
    assert kinds == ["V1Deployment", "V1ConfigMap", "V1Service"]
    core = client.CoreV1Api(api)
    svc = core.read_namespaced_service("web", namespace)
    assert svc.spec.type == "ClusterIP" and svc.spec.ports[0].protocol == "TCP" and svc.spec.cluster_ip
    accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
    raw = core.list_namespaced_config_map(namespace, _preload_content=False, _headers={"Accept": accept})
    listing = json.loads(raw.data)
    assert (listing["kind"], listing["apiVersion"]) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
    cfg = next(i for i in listing["items"] if i["metadata"]["name"] == "cfg")
    assert cfg["kind"] == "PartialObjectMetadata" and cfg["metadata"]["labels"] == {"tier": "backend"}
    assert "data" not in cfg
    one = core.read_namespaced_config_map(
        "cfg", namespace, _preload_content=False,
        _headers={"Accept": "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"},
    )
    assert json.loads(one.data)["kind"] == "PartialObjectMetadata"


# ------------------------------------------------------------------------------------------------- events
def test_events_expire_after_event_ttl(tmp_path: Path) -> None:
    args = ["--event-ttl", "3s", "--disable-agent", "--disable-controllers", "--disable-scheduler"]
    with running_server(tmp_path, "sqlite", extra_args=args) as srv:
        event = {
            "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "brief", "namespace": "default"},
            "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z"), "reportingController": "e2e",
            "reportingInstance": "e2e-1", "action": "Testing", "reason": "Tested", "type": "Normal",
            "regarding": {"kind": "Namespace", "name": "default"}, "note": "gone soon",
        }
        srv.kubectl("create", "-f", "-", input=json.dumps(event))
        core = json.loads(srv.kubectl("get", "events", "brief", "-o", "json").stdout)
        assert core["involvedObject"]["name"] == "default" and core["message"] == "gone soon"
        selected = srv.kubectl("get", "events.events.k8s.io", "--field-selector", "regarding.name=default", "-o", "name")
        assert "brief" in selected.stdout
        deadline = time.monotonic() + 30
        while "brief" in srv.kubectl("get", "events", "-o", "name").stdout:
            assert time.monotonic() < deadline, "the event outlived --event-ttl"
            time.sleep(0.5)

