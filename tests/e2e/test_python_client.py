"""The official Python client (`kubernetes` package) against a real kyb server, on both backends."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from tests.support.cluster import Server

pytestmark = pytest.mark.e2e


@pytest.fixture
def api(cluster: Server) -> Iterator[client.ApiClient]:
    c = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield c
    c.close()


def _cm(name: str, labels: dict[str, str] | None = None, data: dict[str, str] | None = None) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data=data or {})


def test_crud_and_selectors(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    for i in range(6):
        core.create_namespaced_config_map(namespace, _cm(f"c{i}", {"parity": "even" if i % 2 == 0 else "odd", "i": str(i)}))
    names = lambda lst: sorted(o.metadata.name for o in lst.items)  # noqa: E731
    assert names(core.list_namespaced_config_map(namespace, label_selector="parity=even")) == ["c0", "c2", "c4"]
    assert names(core.list_namespaced_config_map(namespace, label_selector="parity!=even,i")) == ["c1", "c3", "c5"]
    assert names(core.list_namespaced_config_map(namespace, label_selector="i in (1,2)")) == ["c1", "c2"]
    assert names(core.list_namespaced_config_map(namespace, label_selector="i notin (1,2),parity")) == ["c0", "c3", "c4", "c5"]
    assert names(core.list_namespaced_config_map(namespace, field_selector="metadata.name=c3")) == ["c3"]
    # paging
    page1 = core.list_namespaced_config_map(namespace, limit=4, label_selector="i")
    assert len(page1.items) == 4 and page1.metadata._continue
    page2 = core.list_namespaced_config_map(namespace, limit=4, _continue=page1.metadata._continue, label_selector="i")
    assert names(page1) + names(page2) == [f"c{i}" for i in range(6)]
    assert not page2.metadata._continue
    # read, replace, patch, delete
    cm = core.read_namespaced_config_map("c0", namespace)
    cm.data = {"k": "v"}
    replaced = core.replace_namespaced_config_map("c0", namespace, cm)
    assert int(replaced.metadata.resource_version) > int(cm.metadata.resource_version)
    patched = core.patch_namespaced_config_map("c0", namespace, {"data": {"k2": "v2"}})
    assert patched.data == {"k": "v", "k2": "v2"}
    core.delete_namespaced_config_map("c0", namespace)
    with pytest.raises(ApiException) as e:
        core.read_namespaced_config_map("c0", namespace)
    assert e.value.status == 404


def test_conflicting_updates_exactly_one_409(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(namespace, _cm("race", data={"n": "0"}))
    base = core.read_namespaced_config_map("race", namespace)
    results: list[int] = []
    barrier = threading.Barrier(2)

    def writer(value: str) -> None:
        body = _cm("race", data={"n": value})
        body.metadata.resource_version = base.metadata.resource_version
        barrier.wait()
        try:
            core.replace_namespaced_config_map("race", namespace, body)
            results.append(200)
        except ApiException as exc:
            results.append(exc.status)

    threads = [threading.Thread(target=writer, args=(v,)) for v in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 409]


def test_watch_resumes_from_resource_version(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    lst = core.list_namespaced_config_map(namespace)
    start_rv = lst.metadata.resource_version
    core.create_namespaced_config_map(namespace, _cm("w1", {"watched": "yes"}))
    core.patch_namespaced_config_map("w1", namespace, {"data": {"x": "1"}})
    core.delete_namespaced_config_map("w1", namespace)
    w = watch.Watch()
    seen: list[tuple[str, str]] = []
    for ev in w.stream(core.list_namespaced_config_map, namespace, resource_version=start_rv, timeout_seconds=10,
                       label_selector="watched"):
        seen.append((ev["type"], ev["object"].metadata.name))
        if len(seen) == 3:
            w.stop()
    assert seen == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]


def test_deployments_and_namespaces(api: client.ApiClient) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    ns = f"py-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=2,
            selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="nginx")]),
            ),
        ),
    )
    created = apps.create_namespaced_deployment(ns, dep)
    assert created.metadata.generation == 1 and created.metadata.uid
    scale = apps.read_namespaced_deployment_scale("web", ns)
    assert scale.spec.replicas == 2
    apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 4}})
    assert apps.read_namespaced_deployment("web", ns).spec.replicas == 4
    core.delete_namespace(ns)


def test_selector_watch_sees_objects_leave_and_enter(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.create_namespaced_config_map(namespace, _cm("mover", {"tier": "a"}))
    core.patch_namespaced_config_map("mover", namespace, {"metadata": {"labels": {"tier": "b"}}})
    core.patch_namespaced_config_map("mover", namespace, {"metadata": {"labels": {"tier": "a"}}})
    w = watch.Watch()
    seen: list[str] = []
    for ev in w.stream(core.list_namespaced_config_map, namespace, label_selector="tier=a", resource_version=rv,
                       timeout_seconds=10):
        seen.append(ev["type"])
        if len(seen) == 3:
            w.stop()
    assert seen == ["ADDED", "DELETED", "ADDED"]


def test_bad_input_is_a_status_not_a_500(api: client.ApiClient, cluster: Server, namespace: str) -> None:
    import json

    core = client.CoreV1Api(api)
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    for body, ctype, code in (
        (b"{not json", "application/json", 400),
        (b"[1,2]", "application/json", 400),
        (b"\x00\x01", "application/vnd.kubernetes.protobuf", 400),
        (b"{}", "text/csv", 415),
        (b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":[1]}', "application/json", 422),
    ):
        status, raw = cluster.raw("POST", path, body, {"Content-Type": ctype})
        assert status == code, (body, raw)
        st = json.loads(raw)
        assert st["kind"] == "Status" and st["code"] == code
    with pytest.raises(ApiException) as e:
        core.patch_namespaced_config_map("missing", namespace, [{"op": "add", "path": "/x", "value": 1}])
    assert e.value.status == 404
    core.create_namespaced_config_map(namespace, _cm("target"))
    status, raw = cluster.raw(
        "PATCH", f"{path}/target", b'[{"op":"replace","path":"/nope/deeper","value":1}]',
        {"Content-Type": "application/json-patch+json"},
    )
    assert status == 422, raw
    status, raw = cluster.raw("PATCH", f"{path}/target", b"{}", {"Content-Type": "application/unknown"})
    assert status == 415, raw
    status, raw = cluster.raw("GET", "/apis/nope.example.com/v1/widgets")
    assert status == 404 and json.loads(raw)["kind"] == "Status"
    assert core.read_namespaced_config_map("target", namespace).metadata.name == "target"
