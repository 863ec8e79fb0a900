"""List resourceVersion / resourceVersionMatch / paging semantics, as upstream documents them."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from tests.support.cluster import Server

pytestmark = pytest.mark.e2e


def _list(srv: Server, ns: str, **params: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    params.setdefault("labelSelector", "made-by=test")  # not the namespace's kube-root-ca.crt
    q = urllib.parse.urlencode(params)
    status, raw = srv.raw("GET", f"/api/v1/namespaces/{ns}/configmaps?{q}")
    return status, json.loads(raw)


def _create(srv: Server, ns: str, name: str) -> int:
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"made-by": "test"}}}).encode()
    status, raw = srv.raw("POST", f"/api/v1/namespaces/{ns}/configmaps", body, {"Content-Type": "application/json"})
    assert status == 201, raw
    return int(json.loads(raw)["metadata"]["resourceVersion"])


def test_exact_and_not_older_than(cluster: Server, namespace: str) -> None:
    rv_a = _create(cluster, namespace, "a")
    _create(cluster, namespace, "b")
    # Exact: the list as it was at rv_a, from storage history.
    status, body = _list(cluster, namespace, resourceVersion=str(rv_a), resourceVersionMatch="Exact")
    assert status == 200
    assert [i["metadata"]["name"] for i in body["items"]] == ["a"]
    assert body["metadata"]["resourceVersion"] == str(rv_a)
    # NotOlderThan: at least that fresh, served from the cache.
    status, body = _list(cluster, namespace, resourceVersion=str(rv_a), resourceVersionMatch="NotOlderThan")
    assert status == 200 and [i["metadata"]["name"] for i in body["items"]] == ["a", "b"]
    # "0": any version, from the cache.
    status, body = _list(cluster, namespace, resourceVersion="0")
    assert status == 200 and len(body["items"]) == 2
    # Unset: consistent read of the latest.
    status, body = _list(cluster, namespace)
    assert int(body["metadata"]["resourceVersion"]) >= rv_a


def test_bad_resource_version_parameters(cluster: Server, namespace: str) -> None:
    status, body = _list(cluster, namespace, resourceVersion="abc")
    assert status == 400 and body["reason"] == "BadRequest"
    status, body = _list(cluster, namespace, resourceVersionMatch="Exact")
    assert status == 400
    status, body = _list(cluster, namespace, **{"continue": "not-base64!"})
    assert status == 400
    status, body = _list(cluster, namespace, resourceVersion="999999999")
    assert status == 504 and body["reason"] == "Timeout" and "Too large resource version" in body["message"]


def test_paging_is_a_consistent_snapshot(cluster: Server, namespace: str) -> None:
    for i in range(5):
        _create(cluster, namespace, f"p{i}")
    status, page1 = _list(cluster, namespace, limit="2")
    assert status == 200 and len(page1["items"]) == 2 and page1["metadata"]["continue"]
    _create(cluster, namespace, "p-late")  # after the snapshot: must not appear in later pages
    names = [i["metadata"]["name"] for i in page1["items"]]
    cont = page1["metadata"]["continue"]
    while cont:
        status, page = _list(cluster, namespace, limit="2", **{"continue": cont})
        assert status == 200
        assert page["metadata"]["resourceVersion"] == page1["metadata"]["resourceVersion"]
        names += [i["metadata"]["name"] for i in page["items"]]
        cont = page["metadata"].get("continue", "")
    assert names == [f"p{i}" for i in range(5)]
