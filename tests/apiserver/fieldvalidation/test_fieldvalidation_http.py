"""fieldValidation through the API: Strict errors, Warn headers, Ignore, and pruning in every mode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.apiserver.fieldvalidation.inprocess import InProcess, in_process_api

CMS = "/api/v1/namespaces/default/configmaps"
BODY = (
    b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","name":"cm"},'
    b'"data":{"x":"1"},"spec":{"foo":1}}'
)


@pytest.fixture
async def k(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process_api(tmp_path) as api:
        yield api


async def test_strict_create_is_a_bad_request_naming_every_field(k: InProcess) -> None:
    r = await k.call("POST", f"{CMS}?fieldValidation=Strict", raw=BODY)
    assert r.status == 400
    assert r.body["reason"] == "BadRequest"
    assert r.body["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'duplicate field "metadata.name", unknown field "spec"'
    )
    assert (await k.call("GET", f"{CMS}/cm")).status == 404


async def test_warn_is_the_default_and_prunes(k: InProcess) -> None:
    r = await k.call("POST", CMS, raw=BODY)
    assert r.status == 201
    assert r.warnings == ['299 - "duplicate field \\"metadata.name\\""', '299 - "unknown field \\"spec\\""']
    assert "spec" not in r.body
    stored = await k.call("GET", f"{CMS}/cm")
    assert "spec" not in stored.body and stored.body["data"] == {"x": "1"}


async def test_ignore_prunes_silently(k: InProcess) -> None:
    r = await k.call("POST", f"{CMS}?fieldValidation=Ignore", raw=BODY)
    assert r.status == 201 and r.warnings == [] and "spec" not in r.body


async def test_bad_mode_is_rejected(k: InProcess) -> None:
    r = await k.call("POST", f"{CMS}?fieldValidation=Loud", raw=BODY)
    assert r.status == 400 and "fieldValidation must be one of" in r.body["message"]


async def test_update_is_checked_like_create(k: InProcess) -> None:
    assert (await k.call("POST", CMS, {"metadata": {"name": "u"}, "data": {"a": "1"}})).status == 201
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "u"}, "data": {"a": "2"}, "bogus": 1}
    r = await k.call("PUT", f"{CMS}/u?fieldValidation=Strict", body)
    assert r.status == 400 and r.body["message"].endswith('strict decoding error: unknown field "bogus"')
    r = await k.call("PUT", f"{CMS}/u", body)
    assert r.status == 200 and r.warnings == ['299 - "unknown field \\"bogus\\""'] and "bogus" not in r.body


async def test_patches_are_invalid_on_the_patch_field(k: InProcess) -> None:
    assert (await k.call("POST", CMS, {"metadata": {"name": "p"}, "data": {"a": "1"}})).status == 201
    r = await k.call(
        "PATCH", f"{CMS}/p?fieldValidation=Strict", raw=b'{"data":{"b":"2"},"data":{"c":"3"},"zz":1}',
        content_type="application/strategic-merge-patch+json",
    )
    assert r.status == 422 and r.body["reason"] == "Invalid"
    assert r.body["details"]["causes"][0]["field"] == "patch"
    assert r.body["message"] == (
        ' "" is invalid: patch: Invalid value: "map[data:map[c:3] zz:1]": strict decoding error: '
        'duplicate field "data", unknown field "zz"'
    )
    r = await k.call("PATCH", f"{CMS}/p", raw=b'{"zz":1}', content_type="application/merge-patch+json")
    assert r.status == 200 and r.warnings == ['299 - "unknown field \\"zz\\""'] and "zz" not in r.body
    r = await k.call(
        "PATCH", f"{CMS}/p?fieldValidation=Strict", raw=b'[{"op":"add","path":"/zz","value":1}]',
        content_type="application/json-patch+json",
    )
    assert r.status == 422 and '\\"zz\\":1' in r.body["message"]


async def test_server_side_apply_rejects_undeclared_fields_in_any_mode(k: InProcess) -> None:
    body = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"s","namespace":"default"},"foo":1}'
    for mode in ("Strict", "Ignore"):
        r = await k.call(
            "PATCH", f"{CMS}/s?fieldManager=me&fieldValidation={mode}", raw=body,
            content_type="application/apply-patch+yaml",
        )
        assert r.status == 500
        assert r.body["message"] == (
            "failed to create typed patch object (default/s; /v1, Kind=ConfigMap): .foo: field not declared in schema"
        )


async def test_server_side_apply_duplicates(k: InProcess) -> None:
    body = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d"},"data":{"a":"1","a":"2"}}'
    r = await k.call(
        "PATCH", f"{CMS}/d?fieldManager=me&fieldValidation=Strict", raw=body, content_type="application/apply-patch+yaml"
    )
    assert r.status == 400
    assert r.body["message"] == (
        "error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal errors:\n"
        '  line 1: key "a" already set in map'
    )
    r = await k.call("PATCH", f"{CMS}/d?fieldManager=me", raw=body, content_type="application/apply-patch+yaml")
    assert r.status == 201 and r.body["data"] == {"a": "2"}
    assert r.warnings == [
        '299 - "error converting YAML to JSON: yaml: unmarshal errors:   line 1: key \\"a\\" already set in map"'
    ]


async def test_events_v1_bodies_are_checked_against_their_own_schema(k: InProcess) -> None:
    body = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "e1"},
        "eventTime": "2024-01-01T00:00:00.000000Z",
        "reportingController": "test",
        "reportingInstance": "test-1",
        "action": "Testing",
        "reason": "Tested",
        "type": "Normal",
        "regarding": {"kind": "Pod", "name": "p", "namespace": "default"},
        "note": "hello",
    }
    r = await k.call("POST", "/apis/events.k8s.io/v1/namespaces/default/events?fieldValidation=Strict", body)
    assert r.status == 201, r.body
    assert r.body["regarding"]["name"] == "p" and r.body["note"] == "hello"
    core = await k.call("GET", "/api/v1/namespaces/default/events/e1")
    assert core.body["involvedObject"]["name"] == "p" and core.body["message"] == "hello"
