"""CRDs through the HTTP API of an in-process server: serving, status, validation, subresources, OpenAPI, cleanup."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver.fieldvalidation.inprocess import InProcess, in_process_api

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"
AGG_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
MERGE = "application/merge-patch+json"

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"], "categories": ["all"]},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {
                    "status": {},
                    "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
                              "labelSelectorPath": ".status.selector"},
                },
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["size"],
                                "properties": {
                                    "size": {"type": "integer", "minimum": 1, "description": "How big."},
                                    "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                                    "replicas": {"type": "integer"},
                                    "ports": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "map",
                                        "x-kubernetes-list-map-keys": ["name"],
                                        "items": {"type": "object", "required": ["name"],
                                                  "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}},
                                    },
                                },
                            },
                            "status": {"type": "object", "properties": {"replicas": {"type": "integer"},
                                                                        "selector": {"type": "string"}}},
                        },
                    }
                },
            }
        ],
    },
}


def widget(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


@pytest.fixture
async def k(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process_api(tmp_path) as api:
        yield api


async def served(k: InProcess, path: str, timeout: float = 1.0) -> float:
    """Seconds until `path` answers 200 (fails after `timeout`)."""
    start = time.monotonic()
    while True:
        if (await k.call("GET", path)).status == 200:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{path} not served within {timeout}s")
        await asyncio.sleep(0.01)


async def gone(k: InProcess, path: str, timeout: float = 2.0) -> None:
    start = time.monotonic()
    while (await k.call("GET", path)).status != 404:
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{path} still served after {timeout}s")
        await asyncio.sleep(0.01)


async def create_crd(k: InProcess, crd: dict[str, Any] = WIDGET_CRD, gv: str = "example.com/v1") -> None:
    r = await k.call("POST", CRDS, crd)
    assert r.status == 201, r.body
    await served(k, f"/apis/{gv}")


async def test_a_new_crd_is_served_and_established_within_a_second(k: InProcess) -> None:
    r = await k.call("POST", CRDS, WIDGET_CRD)
    assert r.status == 201
    assert await served(k, "/apis/example.com/v1") < 1.0
    crd = (await k.call("GET", f"{CRDS}/widgets.example.com")).body
    conditions = {c["type"]: c for c in crd["status"]["conditions"]}
    assert conditions["NamesAccepted"]["status"] == "True"
    assert conditions["NamesAccepted"]["reason"] == "NoConflicts"
    assert conditions["Established"]["status"] == "True"
    assert crd["status"]["acceptedNames"] == {
        "plural": "widgets", "singular": "widget", "shortNames": ["wd"], "kind": "Widget", "listKind": "WidgetList",
        "categories": ["all"],
    }
    assert crd["status"]["storedVersions"] == ["v1"]
    assert crd["spec"]["names"]["singular"] == "widget"
    legacy = (await k.call("GET", "/apis/example.com/v1")).body
    names = {r["name"]: r for r in legacy["resources"]}
    assert names["widgets"]["shortNames"] == ["wd"] and names["widgets"]["categories"] == ["all"]
    assert names["widgets"]["namespaced"] is True and names["widgets/status"]["kind"] == "Widget"
    assert names["widgets/scale"]["group"] == "autoscaling"
    agg = (await k.call("GET", "/apis", headers={"Accept": AGG_V2})).body
    group = next(g for g in agg["items"] if g["metadata"]["name"] == "example.com")
    res = group["versions"][0]["resources"][0]
    assert res["resource"] == "widgets" and res["scope"] == "Namespaced" and res["singularResource"] == "widget"
    assert {s["subresource"] for s in res["subresources"]} == {"scale", "status"}


async def test_custom_resources_are_pruned_defaulted_and_validated(k: InProcess) -> None:
    await create_crd(k)
    r = await k.call("POST", WIDGETS, {**widget("w1", size=2), "junk": 1, "spec": {"size": 2, "extra": True}})
    assert r.status == 201
    assert r.body["spec"] == {"size": 2, "color": "red"}
    assert "junk" not in r.body
    assert r.warnings == ['299 - "unknown field \\"junk\\""', '299 - "unknown field \\"spec.extra\\""']
    r = await k.call("POST", f"{WIDGETS}?fieldValidation=Strict", {**widget("w2", size=2), "spec": {"size": 2, "x": 1}})
    assert r.status == 400
    assert r.body["message"] == (
        'Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown field "spec.x"'
    )
    r = await k.call("POST", WIDGETS, widget("bad", size="big", color="pink"))
    assert r.status == 422
    assert r.body["details"]["causes"] == [
        {"reason": "FieldValueTypeInvalid", "field": "spec.size",
         "message": 'Invalid value: "string": spec.size in body must be of type integer: "string"'},
        {"reason": "FieldValueNotSupported", "field": "spec.color",
         "message": 'Unsupported value: "pink": supported values: "red", "blue"'},
    ]
    assert r.body["message"].startswith('Widget.example.com "bad" is invalid: [spec.size: Invalid value: "string"')
    r = await k.call("POST", WIDGETS, widget("nosize"))
    assert r.body["details"]["causes"] == [{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.size"}]
    r = await k.call("PATCH", f"{WIDGETS}/w1", {"spec": {"size": 0}}, content_type=MERGE)
    assert r.status == 422
    r = await k.call("PATCH", f"{WIDGETS}/w1", {"spec": {"size": 3}}, content_type="application/strategic-merge-patch+json")
    assert r.status == 415
    r = await k.call("PATCH", f"{WIDGETS}/w1", [{"op": "replace", "path": "/spec/size", "value": 4}],
                     content_type="application/json-patch+json")
    assert r.status == 200 and r.body["spec"]["size"] == 4


async def test_status_subresource_and_generation(k: InProcess) -> None:
    await create_crd(k)
    r = await k.call("POST", WIDGETS, {**widget("w", size=1), "status": {"replicas": 9}})
    assert "status" not in r.body and r.body["metadata"]["generation"] == 1
    r = await k.call("PATCH", f"{WIDGETS}/w/status", {"status": {"replicas": 2}, "spec": {"size": 5}}, content_type=MERGE)
    assert r.body["status"] == {"replicas": 2}
    assert r.body["spec"]["size"] == 1 and r.body["metadata"]["generation"] == 1
    r = await k.call("PATCH", f"{WIDGETS}/w", {"spec": {"size": 5}, "status": {"replicas": 7}}, content_type=MERGE)
    assert r.body["status"] == {"replicas": 2}
    assert r.body["metadata"]["generation"] == 2
    r = await k.call("PATCH", f"{WIDGETS}/w", {"metadata": {"labels": {"a": "b"}}}, content_type=MERGE)
    assert r.body["metadata"]["generation"] == 2
    r = await k.call("PATCH", f"{WIDGETS}/w/status", {"status": {"replicas": "two"}}, content_type=MERGE)
    assert r.status == 422


async def test_scale_subresource(k: InProcess) -> None:
    await create_crd(k)
    await k.call("POST", WIDGETS, widget("w", size=1, replicas=2))
    await k.call("PATCH", f"{WIDGETS}/w/status", {"status": {"replicas": 1, "selector": "app=w"}}, content_type=MERGE)
    r = await k.call("GET", f"{WIDGETS}/w/scale")
    assert r.body["kind"] == "Scale" and r.body["spec"] == {"replicas": 2}
    assert r.body["status"] == {"replicas": 1, "selector": "app=w"}
    r = await k.call("PATCH", f"{WIDGETS}/w/scale", {"spec": {"replicas": 5}}, content_type=MERGE)
    assert r.body["spec"] == {"replicas": 5}
    assert (await k.call("GET", f"{WIDGETS}/w")).body["spec"]["replicas"] == 5


async def test_table_output_uses_printer_columns(k: InProcess) -> None:
    await create_crd(k)
    await k.call("POST", WIDGETS, widget("w", size=3))
    t = (await k.call("GET", WIDGETS, headers={"Accept": TABLE})).body
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Size", "Age"]
    assert t["rows"][0]["cells"][:2] == ["w", 3]
    crd = copy.deepcopy(WIDGET_CRD)
    crd["metadata"]["name"] = "gizmos.example.com"
    crd["spec"]["names"] = {"plural": "gizmos", "kind": "Gizmo"}
    del crd["spec"]["versions"][0]["additionalPrinterColumns"]
    await create_crd(k, crd)
    await k.call("POST", "/apis/example.com/v1/namespaces/default/gizmos",
                 {"apiVersion": "example.com/v1", "kind": "Gizmo", "metadata": {"name": "g"}, "spec": {"size": 1}})
    t = (await k.call("GET", "/apis/example.com/v1/namespaces/default/gizmos", headers={"Accept": TABLE})).body
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Age"]


async def test_openapi_documents_follow_the_crd(k: InProcess) -> None:
    await create_crd(k)
    index = (await k.call("GET", "/openapi/v3")).body["paths"]
    assert "apis/example.com/v1" in index
    doc = (await k.call("GET", index["apis/example.com/v1"]["serverRelativeURL"])).body
    op = doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert "fieldValidation" in [p.get("name") for p in op["parameters"]]
    assert op["x-kubernetes-group-version-kind"] == {"group": "example.com", "kind": "Widget", "version": "v1"}
    assert "application/strategic-merge-patch+json" not in op["requestBody"]["content"]
    schema = doc["components"]["schemas"]["com.example.v1.Widget"]
    assert schema["x-kubernetes-group-version-kind"] == [{"group": "example.com", "kind": "Widget", "version": "v1"}]
    assert schema["properties"]["spec"]["properties"]["size"]["description"] == "How big."
    assert schema["properties"]["metadata"]["allOf"][0]["$ref"].endswith("ObjectMeta")
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in doc["components"]["schemas"]
    v2 = (await k.call("GET", "/openapi/v2")).body
    assert v2["definitions"]["com.example.v1.Widget"]["properties"]["metadata"]["$ref"].endswith("ObjectMeta")
    assert "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}" in v2["paths"]
    assert (await k.call("DELETE", f"{CRDS}/widgets.example.com")).status == 200
    await gone(k, "/apis/example.com/v1")
    assert "apis/example.com/v1" not in (await k.call("GET", "/openapi/v3")).body["paths"]
    assert "com.example.v1.Widget" not in (await k.call("GET", "/openapi/v2")).body["definitions"]


async def test_versions_share_storage_with_conversion_none(k: InProcess) -> None:
    crd = copy.deepcopy(WIDGET_CRD)
    v1beta1 = copy.deepcopy(crd["spec"]["versions"][0])
    v1beta1.update(name="v1beta1", storage=False)
    crd["spec"]["versions"].append(v1beta1)
    await create_crd(k, crd)
    await served(k, "/apis/example.com/v1beta1")
    beta = "/apis/example.com/v1beta1/namespaces/default/widgets"
    r = await k.call("POST", beta, {**widget("w", size=1), "apiVersion": "example.com/v1beta1"})
    assert r.status == 201 and r.body["apiVersion"] == "example.com/v1beta1"
    assert (await k.call("GET", f"{WIDGETS}/w")).body["apiVersion"] == "example.com/v1"
    listed = (await k.call("GET", beta)).body
    assert listed["kind"] == "WidgetList" and listed["items"][0]["apiVersion"] == "example.com/v1beta1"
    agg = (await k.call("GET", "/apis", headers={"Accept": AGG_V2})).body
    group = next(g for g in agg["items"] if g["metadata"]["name"] == "example.com")
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1"]
    # subresources through the non-storage version still store the storage version
    r = await k.call("PATCH", f"{beta}/w/scale", {"spec": {"replicas": 3}}, content_type=MERGE)
    assert r.status == 200 and r.body["spec"] == {"replicas": 3}
    current = (await k.call("GET", f"{beta}/w")).body
    current["status"] = {"replicas": 3}
    r = await k.call("PUT", f"{beta}/w/status", current)
    assert r.status == 200 and r.body["apiVersion"] == "example.com/v1beta1" and r.body["status"] == {"replicas": 3}
    stored = (await k.call("GET", f"{WIDGETS}/w")).body
    assert stored["apiVersion"] == "example.com/v1"
    assert stored["spec"]["replicas"] == 3 and stored["status"] == {"replicas": 3}


async def test_cluster_scoped_resources(k: InProcess) -> None:
    crd = copy.deepcopy(WIDGET_CRD)
    crd["metadata"]["name"] = "gizmos.example.com"
    crd["spec"].update(scope="Cluster", names={"plural": "gizmos", "kind": "Gizmo"})
    await create_crd(k, crd)
    path = "/apis/example.com/v1/gizmos"
    r = await k.call("POST", path, {"apiVersion": "example.com/v1", "kind": "Gizmo", "metadata": {"name": "g"}, "spec": {"size": 1}})
    assert r.status == 201 and "namespace" not in r.body["metadata"]
    assert (await k.call("GET", f"{path}/g")).status == 200
    assert (await k.call("GET", "/apis/example.com/v1/namespaces/default/gizmos")).status == 404


async def test_name_conflicts_are_not_accepted(k: InProcess) -> None:
    await create_crd(k)
    crd = copy.deepcopy(WIDGET_CRD)
    crd["metadata"]["name"] = "gadgets.example.com"
    crd["spec"]["names"] = {"plural": "gadgets", "kind": "Gadget", "shortNames": ["wd"]}
    assert (await k.call("POST", CRDS, crd)).status == 201
    for _ in range(100):
        status = (await k.call("GET", f"{CRDS}/gadgets.example.com")).body.get("status") or {}
        if status.get("conditions"):
            break
        await asyncio.sleep(0.01)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["NamesAccepted"]["status"] == "False"
    assert conditions["NamesAccepted"]["reason"] == "ShortNamesConflict"
    assert conditions["NamesAccepted"]["message"] == '"wd" is already in use'
    assert conditions["Established"]["status"] == "False"
    assert (await k.call("GET", "/apis/example.com/v1/namespaces/default/gadgets")).status == 404


async def test_invalid_crds_are_refused(k: InProcess) -> None:
    crd = copy.deepcopy(WIDGET_CRD)
    crd["metadata"]["name"] = "wrong.example.com"
    crd["spec"]["versions"][0]["storage"] = False
    r = await k.call("POST", CRDS, crd)
    assert r.status == 422
    assert r.body["details"]["kind"] == "CustomResourceDefinition"
    assert [c["field"] for c in r.body["details"]["causes"]] == ["metadata.name", "spec.versions"]


async def test_deleting_the_crd_deletes_its_resources_first(k: InProcess) -> None:
    await create_crd(k)
    held = {**widget("held", size=1), "metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    assert (await k.call("POST", WIDGETS, held)).status == 201
    assert (await k.call("POST", WIDGETS, widget("plain", size=1))).status == 201
    r = await k.call("DELETE", f"{CRDS}/widgets.example.com")
    assert r.status == 200
    assert "customresourcecleanup.apiextensions.k8s.io" in r.body["metadata"]["finalizers"]
    await gone(k, f"{WIDGETS}/plain")
    r = await k.call("GET", f"{WIDGETS}/held")
    assert r.body["metadata"]["deletionTimestamp"]
    r = await k.call("POST", WIDGETS, widget("late", size=1))
    assert r.status == 405
    assert r.body["message"] == "create not allowed while custom resource definition is terminating"
    crd = (await k.call("GET", f"{CRDS}/widgets.example.com")).body
    terminating = next(c for c in crd["status"]["conditions"] if c["type"] == "Terminating")
    assert terminating["reason"] == "InstanceDeletionInProgress"
    await k.call("PATCH", f"{WIDGETS}/held", {"metadata": {"finalizers": None}}, content_type=MERGE)
    await gone(k, f"{CRDS}/widgets.example.com")
    await gone(k, "/apis/example.com/v1")
    agg = (await k.call("GET", "/apis", headers={"Accept": AGG_V2})).body
    assert "example.com" not in [g["metadata"]["name"] for g in agg["items"]]
    await create_crd(k)
    assert (await k.call("GET", WIDGETS)).body["items"] == []


async def test_server_side_apply_uses_list_map_keys(k: InProcess) -> None:
    await create_crd(k)
    apply = "application/apply-patch+yaml"
    body = widget("w", size=1, ports=[{"name": "a", "port": 1}])
    r = await k.call("PATCH", f"{WIDGETS}/w?fieldManager=one", body, content_type=apply)
    assert r.status == 201
    body = widget("w", ports=[{"name": "b", "port": 2}])
    r = await k.call("PATCH", f"{WIDGETS}/w?fieldManager=two", body, content_type=apply)
    assert r.status == 200, r.body
    assert r.body["spec"]["ports"] == [{"name": "a", "port": 1}, {"name": "b", "port": 2}]
    r = await k.call("PATCH", f"{WIDGETS}/w?fieldManager=two", widget("w", size=7), content_type=apply)
    assert r.status == 409
    r = await k.call("PATCH", f"{WIDGETS}/w?fieldManager=two", widget("w", junk=1), content_type=apply)
    assert r.status == 500 and "field not declared in schema" in r.body["message"]


async def test_crds_are_served_again_after_a_restart(tmp_path: Path) -> None:
    async with in_process_api(tmp_path) as k:
        await create_crd(k)
        assert (await k.call("POST", WIDGETS, widget("w", size=1))).status == 201
    async with in_process_api(tmp_path) as k:
        r = await k.call("GET", f"{WIDGETS}/w")
        assert r.status == 200 and r.body["spec"]["size"] == 1
