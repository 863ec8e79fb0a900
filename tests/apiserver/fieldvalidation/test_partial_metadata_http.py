"""PartialObjectMetadata(List) responses, as client-go's metadata client and informers ask for them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.apiserver.fieldvalidation.inprocess import InProcess, in_process_api

CMS = "/api/v1/namespaces/default/configmaps"
LIST_V1 = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
ONE_V1 = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"


@pytest.fixture
async def k(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process_api(tmp_path) as api:
        for name in ("a", "b", "c"):
            assert (await api.call("POST", CMS, {"metadata": {"name": name, "labels": {"n": name}}, "data": {"x": "y"}})).status == 201
        yield api


async def test_list_as_partial_object_metadata_list(k: InProcess) -> None:
    r = await k.call("GET", f"{CMS}?limit=2", headers={"Accept": LIST_V1})
    assert r.status == 200
    assert (r.body["kind"], r.body["apiVersion"]) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
    assert r.body["metadata"]["continue"] and r.body["metadata"]["resourceVersion"]
    assert [i["metadata"]["name"] for i in r.body["items"]] == ["a", "b"]
    item = r.body["items"][0]
    assert (item["kind"], item["apiVersion"]) == ("PartialObjectMetadata", "meta.k8s.io/v1")
    assert item["metadata"]["labels"] == {"n": "a"} and "data" not in item


async def test_get_as_partial_object_metadata(k: InProcess) -> None:
    accept = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1,application/json"
    r = await k.call("GET", f"{CMS}/a", headers={"Accept": accept})
    assert r.status == 200
    assert (r.body["kind"], r.body["apiVersion"]) == ("PartialObjectMetadata", "meta.k8s.io/v1beta1")
    assert r.body["metadata"]["name"] == "a" and "data" not in r.body


async def test_the_wrong_partial_kind_is_not_acceptable(k: InProcess) -> None:
    r = await k.call("GET", f"{CMS}/a", headers={"Accept": "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"})
    assert r.status == 406 and "not a list" in r.body["message"]
    r = await k.call("GET", CMS, headers={"Accept": ONE_V1.split(",")[0]})
    assert r.status == 406 and "is a list" in r.body["message"]
    r = await k.call("GET", CMS, headers={"Accept": "application/json;as=Nope;g=meta.k8s.io;v=v1"})
    assert r.status == 406
