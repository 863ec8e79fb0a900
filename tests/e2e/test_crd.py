"""CustomResourceDefinitions end to end: the real kubectl (1.33, 1.27) and the Python dynamic client.

Each test makes its own API group, so CRDs of different tests never collide on the shared server, and runs kubectl
with a fresh discovery cache, so `explain widget` and short names resolve to this test's CRD.
"""

from __future__ import annotations

import subprocess
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import config, dynamic
from kubernetes.client.exceptions import ApiException

from tests.support.cluster import Server, kubectl_path

pytestmark = pytest.mark.e2e

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def crd_yaml(group: str, *, scope: str = "Namespaced", plural: str = "widgets", kind: str = "Widget") -> str:
    return textwrap.dedent(
        f"""
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {{name: {plural}.{group}}}
        spec:
          group: {group}
          scope: {scope}
          names: {{plural: {plural}, singular: {kind.lower()}, kind: {kind}, shortNames: [{kind.lower()[:2]}x]}}
          versions:
          - name: v1
            served: true
            storage: true
            subresources:
              status: {{}}
              scale: {{specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}}
            additionalPrinterColumns:
            - {{name: Size, type: integer, jsonPath: .spec.size}}
            - {{name: Color, type: string, jsonPath: .spec.color}}
            schema:
              openAPIV3Schema:
                type: object
                description: A {kind} made for a test.
                properties:
                  spec:
                    type: object
                    required: [size]
                    properties:
                      size: {{type: integer, minimum: 1, description: How big the {kind.lower()} is.}}
                      color: {{type: string, enum: [red, blue], default: red}}
                      replicas: {{type: integer}}
                      tags: {{type: array, items: {{type: string}}, x-kubernetes-list-type: set}}
                  status:
                    type: object
                    properties:
                      replicas: {{type: integer}}
        """
    )


def cr_yaml(group: str, name: str, spec: str, kind: str = "Widget") -> str:
    return f"apiVersion: {group}/v1\nkind: {kind}\nmetadata: {{name: {name}}}\nspec: {spec}\n"


@pytest.fixture
def group(cluster: Server) -> Iterator[str]:
    g = f"t{uuid.uuid4().hex[:8]}.example.com"
    yield g
    for plural in ("widgets", "gizmos"):
        cluster.kubectl("delete", "crd", f"{plural}.{g}", "--ignore-not-found", check=False)


@pytest.fixture
def kube(cluster: Server) -> Iterator[Callable[[str], Kubectl]]:
    """kubectl of a given version with a discovery cache of this test only."""
    cache = Path(tempfile.mkdtemp(prefix="kyb-crd-cache-"))

    def for_version(version: str) -> Kubectl:
        def run(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
            return cluster.kubectl(f"--cache-dir={cache / version}", *args, version=version, **kw)  # type: ignore[arg-type]

        return run

    yield for_version


def wait_established(k: Kubectl, name: str) -> None:
    k("wait", "--for=condition=Established", f"crd/{name}", "--timeout=10s")


@pytest.mark.parametrize("version", ["1.33", "1.27"])
def test_widgets_with_kubectl(kube: Callable[[str], Kubectl], group: str, namespace: str, version: str) -> None:
    k = kube(version)
    kn = lambda *a, **kw: k("-n", namespace, *a, **kw)  # noqa: E731
    res = f"widgets.{group}"
    assert "created" in k("apply", "-f", "-", input=crd_yaml(group)).stdout
    wait_established(k, res)
    assert f"{res}" in k("get", "crd").stdout
    resources = k("api-resources", "--api-group", group).stdout
    assert "widgets" in resources and "wix" in resources and "Widget" in resources

    # create -f needs OpenAPI (v3 on 1.33, v2 protobuf on 1.27) to find fieldValidation for the kind
    assert "created" in kn("create", "-f", "-", input=cr_yaml(group, "w1", "{size: 3, tags: [a]}")).stdout
    assert "created" in kn("apply", "-f", "-", input=cr_yaml(group, "w2", "{size: 4}")).stdout
    table = kn("get", res).stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE", "COLOR"]
    assert table[1].split()[:3] == ["w1", "3", "red"]
    assert kn("get", "wix", "w2", "-o", "jsonpath={.spec.color}").stdout == "red"

    # merge and JSON patches work, strategic merge patch is refused with 415 like upstream
    assert "patched" in kn("patch", res, "w1", "--type=merge", "-p", '{"spec":{"size":5}}').stdout
    assert "patched" in kn("patch", res, "w1", "--type=json", "-p", '[{"op":"replace","path":"/spec/size","value":6}]').stdout
    smp = kn("patch", res, "w1", "-p", '{"spec":{"size":7}}', check=False)
    assert smp.returncode != 0 and "application/strategic-merge-patch+json" in smp.stderr
    assert kn("get", res, "w1", "-o", "jsonpath={.spec.size} {.metadata.generation}").stdout == "6 3"
    assert "scaled" in kn("scale", res, "w1", "--replicas=2").stdout

    # invalid objects: 422 with one line per cause
    bad = kn("create", "-f", "-", input=cr_yaml(group, "bad", '{size: "big", color: pink}'), check=False)
    assert bad.returncode == 1
    assert 'The Widget "bad" is invalid:' in bad.stderr
    assert '* spec.size: Invalid value: "string": spec.size in body must be of type integer: "string"' in bad.stderr
    assert '* spec.color: Unsupported value: "pink": supported values: "red", "blue"' in bad.stderr
    unknown = kn("create", "-f", "-", input=cr_yaml(group, "w3", "{size: 1, extra: 1}"), check=False)
    assert 'strict decoding error: unknown field "spec.extra"' in unknown.stderr

    explained = k("explain", "widget.spec.size").stdout
    assert "How big the widget is." in explained and "integer" in explained

    applied = kn("apply", "--server-side", "-f", "-", input=cr_yaml(group, "w4", "{size: 9, tags: [p, q]}"))
    assert "serverside-applied" in applied.stdout
    managed = kn("get", res, "w4", "-o", "jsonpath={.metadata.managedFields[0].manager}", "--show-managed-fields")
    assert managed.stdout == "kubectl"

    # deleting the CRD deletes its objects and its API
    k("delete", "crd", res)
    assert "widgets" not in k("api-resources", "--api-group", group).stdout
    gone = kn("get", res, check=False)
    assert gone.returncode != 0


def test_watch_and_cluster_scope_with_kubectl(cluster: Server, kube: Callable[[str], Kubectl], group: str, namespace: str) -> None:
    k = kube("1.33")
    k("apply", "-f", "-", input=crd_yaml(group) + "---\n" + crd_yaml(group, scope="Cluster", plural="gizmos", kind="Gizmo"))
    wait_established(k, f"widgets.{group}")
    wait_established(k, f"gizmos.{group}")
    k("create", "-f", "-", input=cr_yaml(group, "g1", "{size: 2}", kind="Gizmo"))
    assert k("get", f"gizmos.{group}", "g1", "-o", "jsonpath={.metadata.namespace}|{.spec.size}").stdout == "|2"
    k("-n", namespace, "create", "-f", "-", input=cr_yaml(group, "w1", "{size: 1}"))
    cache = Path(tempfile.mkdtemp(prefix="kyb-crd-watch-"))
    watcher = subprocess.Popen(
        [kubectl_path("1.33"), f"--kubeconfig={cluster.kubeconfig}", f"--cache-dir={cache}", "-n", namespace,
         "get", f"widgets.{group}", "-w", "--request-timeout=4s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(1.5)
        k("-n", namespace, "patch", f"widgets.{group}", "w1", "--type=merge", "-p", '{"spec":{"size":8}}')
        out, _ = watcher.communicate(timeout=15)
    finally:
        watcher.kill()
    rows = [ln.split() for ln in out.splitlines() if ln.startswith("w1")]
    assert rows[0][:2] == ["w1", "1"] and rows[-1][:2] == ["w1", "8"]


def test_dynamic_client(cluster: Server, group: str, namespace: str) -> None:
    cluster.kubectl("apply", "-f", "-", input=crd_yaml(group) + "---\n" + crd_yaml(group, scope="Cluster", plural="gizmos", kind="Gizmo"))
    cluster.kubectl("wait", "--for=condition=Established", f"crd/widgets.{group}", f"crd/gizmos.{group}", "--timeout=10s")
    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    try:
        dyn = dynamic.DynamicClient(api_client, cache_file=str(Path(tempfile.mkdtemp()) / "discovery.json"))
        widgets = dyn.resources.get(api_version=f"{group}/v1", kind="Widget")
        assert widgets.namespaced
        body = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "dyn"}, "spec": {"size": 2, "junk": 1}}
        created = widgets.create(body=body, namespace=namespace)
        assert created.spec.to_dict() == {"size": 2, "color": "red"}
        assert [w.metadata.name for w in widgets.get(namespace=namespace).items] == ["dyn"]
        patched = widgets.patch(name="dyn", namespace=namespace, body={"spec": {"size": 5}},
                                content_type="application/merge-patch+json")
        assert patched.spec.size == 5 and patched.metadata.generation == 2
        status = widgets.status.patch(name="dyn", namespace=namespace, body={"status": {"replicas": 3}},
                                      content_type="application/merge-patch+json")
        assert status.status.replicas == 3 and status.metadata.generation == 2
        events = [(e["type"], e["object"].spec.size) for e in widgets.watch(namespace=namespace, timeout=1)]
        assert events == [("ADDED", 5)]
        with pytest.raises(ApiException) as err:
            widgets.create(body={**body, "metadata": {"name": "bad"}, "spec": {"size": 0}}, namespace=namespace)
        assert err.value.status == 422
        assert "spec.size in body should be greater than or equal to 1" in str(err.value.body)
        gizmos = dyn.resources.get(api_version=f"{group}/v1", kind="Gizmo")
        assert not gizmos.namespaced
        gizmos.create(body={"apiVersion": f"{group}/v1", "kind": "Gizmo", "metadata": {"name": "g"}, "spec": {"size": 1}})
        assert [g.metadata.name for g in gizmos.get().items] == ["g"]
        gizmos.delete(name="g")
        assert gizmos.get().items == []
    finally:
        api_client.close()

