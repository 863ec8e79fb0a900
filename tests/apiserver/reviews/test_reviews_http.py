"""Self-service reviews, SubjectAccessReview, TokenReview and TokenRequest through the API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kybernetes.machinery.protobuf.decode import encode_k8s_envelope
from tests.apiserver.fieldvalidation.inprocess import InProcess, in_process_api

AUTHZ = "/apis/authorization.k8s.io/v1"
AUTHN = "/apis/authentication.k8s.io/v1"
SAS = "/api/v1/namespaces/default/serviceaccounts"


@pytest.fixture
async def k(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process_api(tmp_path) as api:
        yield api


def ssar(**attrs: Any) -> dict[str, Any]:
    return {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {"resourceAttributes": attrs},
        "status": {"allowed": False},
    }


async def test_admins_may_do_anything(k: InProcess) -> None:
    r = await k.call("POST", f"{AUTHZ}/selfsubjectaccessreviews", ssar(namespace="default", verb="create", resource="pods"))
    assert r.status == 201
    assert r.body["status"] == {"allowed": True}
    assert r.body["spec"]["resourceAttributes"]["resource"] == "pods"
    r = await k.call("POST", f"{AUTHZ}/selfsubjectrulesreviews", {"spec": {"namespace": "default"}})
    assert r.status == 201
    assert {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]} in r.body["status"]["resourceRules"]
    assert {"verbs": ["*"], "nonResourceURLs": ["*"]} in r.body["status"]["nonResourceRules"]
    assert r.body["status"]["incomplete"] is False


async def test_protobuf_review_bodies(k: InProcess) -> None:
    body = encode_k8s_envelope(ssar(namespace="default", verb="list", resource="secrets"))
    r = await k.call(
        "POST", f"{AUTHZ}/selfsubjectaccessreviews", raw=body, content_type="application/vnd.kubernetes.protobuf"
    )
    assert r.status == 201 and r.body["status"]["allowed"] is True
    assert r.body["spec"]["resourceAttributes"]["resource"] == "secrets"


async def test_other_users_are_told_no_with_a_reason(k: InProcess) -> None:
    token = k.user_token("jane", ["developers"])
    r = await k.call("POST", f"{AUTHZ}/selfsubjectaccessreviews", ssar(verb="create", resource="pods"), token=token)
    assert r.status == 201 and r.body["status"]["allowed"] is False
    assert "RBAC" in r.body["status"]["reason"]
    r = await k.call(
        "POST", f"{AUTHZ}/selfsubjectaccessreviews",
        ssar(verb="create", group="authorization.k8s.io", resource="selfsubjectrulesreviews"), token=token,
    )
    assert r.body["status"]["allowed"] is True
    nonres = {"spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}}
    r = await k.call("POST", f"{AUTHZ}/selfsubjectaccessreviews", nonres, token=token)
    assert r.body["status"]["allowed"] is True
    r = await k.call("POST", f"{AUTHZ}/selfsubjectrulesreviews", {"spec": {"namespace": "x"}}, token=token)
    assert all(rule["resources"] != ["*"] for rule in r.body["status"]["resourceRules"])


async def test_review_validation(k: InProcess) -> None:
    r = await k.call("POST", f"{AUTHZ}/selfsubjectaccessreviews", {"spec": {}})
    assert r.status == 422
    assert r.body["details"]["causes"][0] == {
        "reason": "FieldValueInvalid",
        "message": "Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified",
        "field": "spec.resourceAttributes",
    }
    r = await k.call("POST", f"{AUTHZ}/selfsubjectrulesreviews", {"spec": {}})
    assert r.status == 400 and r.body["message"] == "no namespace on request"
    r = await k.call("POST", f"{AUTHZ}/selfsubjectaccessreviews", {"apiVersion": "v1", "kind": "Pod"})
    assert r.status == 400


async def test_subject_access_review(k: InProcess) -> None:
    sar = {"spec": {"user": "ops", "groups": ["system:masters"], "resourceAttributes": {"verb": "delete", "resource": "nodes"}}}
    r = await k.call("POST", f"{AUTHZ}/subjectaccessreviews", sar)
    assert r.status == 201 and r.body["status"] == {"allowed": True}
    r = await k.call("POST", f"{AUTHZ}/subjectaccessreviews", {"spec": {"resourceAttributes": {"verb": "get"}}})
    assert r.status == 422 and "at least one of user or group" in r.body["message"]
    local = {"spec": {"user": "u", "resourceAttributes": {"namespace": "other", "verb": "get", "resource": "pods"}}}
    r = await k.call("POST", f"{AUTHZ}/namespaces/default/localsubjectaccessreviews", local)
    assert r.status == 400


async def test_whoami_in_both_versions(k: InProcess) -> None:
    for version in ("v1", "v1beta1"):
        body = {"kind": "SelfSubjectReview", "apiVersion": f"authentication.k8s.io/{version}"}
        r = await k.call("POST", f"/apis/authentication.k8s.io/{version}/selfsubjectreviews", body)
        assert r.status == 201
        assert r.body["apiVersion"] == f"authentication.k8s.io/{version}"
        assert r.body["status"]["userInfo"]["username"] == "test-admin"
        assert "system:authenticated" in r.body["status"]["userInfo"]["groups"]


async def create_sa(k: InProcess, name: str) -> dict[str, Any]:
    r = await k.call("POST", SAS, {"metadata": {"name": name}})
    assert r.status == 201
    await k.api.cache.wait_fresh()
    body: dict[str, Any] = r.body
    return body


async def token_for(k: InProcess, name: str, **spec: Any) -> Any:
    return await k.call("POST", f"{SAS}/{name}/token", {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})


async def test_token_request_and_authentication(k: InProcess) -> None:
    sa = await create_sa(k, "bot")
    r = await token_for(k, "bot")
    assert r.status == 201
    assert r.body["spec"]["expirationSeconds"] == 3600
    assert r.body["spec"]["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    token = r.body["status"]["token"]
    who = await k.call("POST", f"{AUTHN}/selfsubjectreviews", {}, token=token)
    assert who.status == 201
    info = who.body["status"]["userInfo"]
    assert info["username"] == "system:serviceaccount:default:bot"
    assert info["uid"] == sa["metadata"]["uid"]
    assert info["groups"] == ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]
    assert info["extra"]["authentication.kubernetes.io/credential-id"][0].startswith("JTI=")
    review = await k.call("POST", f"{AUTHN}/tokenreviews", {"spec": {"token": token}})
    assert review.body["status"]["authenticated"] is True
    assert review.body["status"]["user"]["username"] == "system:serviceaccount:default:bot"
    # Deleting the service account revokes its tokens.
    assert (await k.call("DELETE", f"{SAS}/bot")).status == 200
    await k.api.cache.wait_fresh()
    assert (await k.call("POST", f"{AUTHN}/selfsubjectreviews", {}, token=token)).status == 401


async def test_tokens_for_other_audiences_only_pass_token_review(k: InProcess) -> None:
    await create_sa(k, "vault")
    token = (await token_for(k, "vault", audiences=["vault"], expirationSeconds=600)).body["status"]["token"]
    assert (await k.call("GET", "/api/v1/namespaces", token=token)).status == 401
    review = await k.call("POST", f"{AUTHN}/tokenreviews", {"spec": {"token": token, "audiences": ["vault"]}})
    assert review.body["status"]["authenticated"] is True and review.body["status"]["audiences"] == ["vault"]
    review = await k.call("POST", f"{AUTHN}/tokenreviews", {"spec": {"token": token}})
    assert review.body["status"]["authenticated"] is False


async def test_token_request_errors(k: InProcess) -> None:
    r = await token_for(k, "ghost")
    assert r.status == 404 and r.body["message"] == 'serviceaccounts "ghost" not found'
    await create_sa(k, "short")
    r = await token_for(k, "short", expirationSeconds=60)
    assert r.status == 422
    assert r.body["message"] == (
        'TokenRequest.authentication.k8s.io "short" is invalid: spec.expirationSeconds: Invalid value: 60: '
        "may not specify a duration less than 10 minutes"
    )


async def test_pod_bound_tokens(k: InProcess) -> None:
    await create_sa(k, "default")
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    created = await k.call("POST", "/api/v1/namespaces/default/pods", pod)
    assert created.status == 201
    ref = {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": created.body["metadata"]["uid"]}
    r = await token_for(k, "default", boundObjectRef=ref)
    assert r.status == 201, r.body
    await k.api.cache.wait_fresh()
    who = await k.call("POST", f"{AUTHN}/selfsubjectreviews", {}, token=r.body["status"]["token"])
    assert who.body["status"]["userInfo"]["extra"]["authentication.kubernetes.io/pod-name"] == ["p"]
    r = await token_for(k, "default", boundObjectRef={**ref, "uid": "wrong"})
    assert r.status == 409


async def test_signing_key_survives_restart(tmp_path: Path) -> None:
    async with in_process_api(tmp_path) as first:
        await create_sa(first, "keep")
        token = (await token_for(first, "keep")).body["status"]["token"]
    await asyncio.sleep(0)
    async with in_process_api(tmp_path) as second:
        await second.api.cache.wait_fresh()
        who = await second.call("POST", f"{AUTHN}/selfsubjectreviews", {}, token=token)
        assert who.status == 201 and who.body["status"]["userInfo"]["username"] == "system:serviceaccount:default:keep"
