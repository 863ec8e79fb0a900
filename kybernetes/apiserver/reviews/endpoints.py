"""The create-only review resources: answered from the caller's identity, never stored.

authorization.k8s.io: SelfSubjectAccessReview (`kubectl auth can-i`), SelfSubjectRulesReview (`can-i --list`),
SubjectAccessReview and LocalSubjectAccessReview (for other users, as webhooks and controllers ask).
authentication.k8s.io: SelfSubjectReview (`kubectl auth whoami`) and TokenReview. Each answers 201 with the
request object and its status filled in, like upstream's REST handlers for these kinds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver import responses
from kybernetes.apiserver.auth import ANONYMOUS, UserInfo
from kybernetes.apiserver.handlers import read_body
from kybernetes.apiserver.request import decode_body
from kybernetes.apiserver.reviews.authorizer import (
    Attributes,
    Authorizer,
    Decision,
    PrivilegedGroupsAuthorizer,
)
from kybernetes.apiserver.reviews.tokens import API_AUDIENCES, ServiceAccountTokens
from kybernetes.machinery import errors
from kybernetes.machinery.errors import FieldError

if TYPE_CHECKING:
    from kybernetes.apiserver.server import APIServer


class ReviewEndpoints:
    def __init__(self, api: APIServer, tokens: ServiceAccountTokens) -> None:
        self.api = api
        self.tokens = tokens

    @property
    def authorizer(self) -> Authorizer:
        impl = self.api.authorizer_impl
        if impl is None:
            impl = self.api.authorizer_impl = PrivilegedGroupsAuthorizer()
        authorizer: Authorizer = impl
        return authorizer

    # --------------------------------------------------------------- access
    async def self_subject_access_review(self, request: web.Request, info: ResourceInfo, ns: str) -> web.StreamResponse:
        review = await _read(request, info)
        spec = _spec(review)
        _check_access_spec(info, review, spec)
        decision = self.authorizer.authorize(_caller(request), Attributes.from_review(spec))
        return _answer(info, review, spec, _decision_status(decision))

    async def subject_access_review(self, request: web.Request, info: ResourceInfo, ns: str) -> web.StreamResponse:
        review = await _read(request, info)
        spec = _spec(review)
        _check_access_spec(info, review, spec)
        if not spec.get("user") and not spec.get("groups"):
            raise errors.invalid(
                info.kind, info.group, "",
                [FieldError("invalid", "spec.user", "", "at least one of user or group must be specified")],
            )
        if info.resource == "localsubjectaccessreviews":
            meta_ns = (review.get("metadata") or {}).get("namespace") or ns
            ra = spec.get("resourceAttributes") or {}
            if meta_ns != ns or (spec.get("resourceAttributes") is not None and ra.get("namespace") != ns):
                raise errors.bad_request(f"spec.resourceAttributes.namespace must match namespace: {ns}")
        subject = UserInfo(
            str(spec.get("user") or ""),
            str(spec.get("uid") or ""),
            tuple(str(g) for g in spec.get("groups") or ()),
            {str(k): [str(x) for x in v] for k, v in (spec.get("extra") or {}).items()},
        )
        decision = self.authorizer.authorize(subject, Attributes.from_review(spec))
        return _answer(info, review, spec, _decision_status(decision))

    async def self_subject_rules_review(self, request: web.Request, info: ResourceInfo, ns: str) -> web.StreamResponse:
        review = await _read(request, info)
        namespace = str(_spec(review).get("namespace") or "")
        if not namespace:
            raise errors.bad_request("no namespace on request")
        rules = self.authorizer.rules_for(_caller(request), namespace)
        return _answer(info, review, {}, rules.status())

    # ------------------------------------------------------------- identity
    async def self_subject_review(self, request: web.Request, info: ResourceInfo, ns: str) -> web.StreamResponse:
        review = await _read(request, info)
        return _answer(info, review, None, {"userInfo": _caller(request).to_dict()})

    async def token_review(self, request: web.Request, info: ResourceInfo, ns: str) -> web.StreamResponse:
        review = await _read(request, info)
        spec = _spec(review)
        token = str(spec.get("token") or "")
        if not token:
            raise errors.bad_request("token is required for TokenReview in ")
        wanted = tuple(str(a) for a in spec.get("audiences") or ()) or API_AUDIENCES
        status: dict[str, Any] = {"authenticated": False, "user": {}}
        static = self.api.authn.tokens.get(token)
        if static is not None:
            if set(wanted) & set(API_AUDIENCES):
                status = {"authenticated": True, "user": static.to_dict(), "audiences": list(API_AUDIENCES)}
            else:
                status["error"] = f"token audiences {list(API_AUDIENCES)!r} is invalid for the target audiences {list(wanted)!r}"
        else:
            found = self.tokens.authenticate(token, wanted)
            if found is not None:
                status = {"authenticated": True, "user": found.user.to_dict(), "audiences": list(found.audiences)}
            else:
                status["error"] = "[invalid bearer token, token lookup failed]"
        return _answer(info, review, spec, status)


async def _read(request: web.Request, info: ResourceInfo) -> dict[str, Any]:
    body = decode_body(await read_body(request), request.headers.get("Content-Type", ""))
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request must be a JSON object")
    kind, api_version = body.get("kind"), body.get("apiVersion")
    if (kind and kind != info.kind) or (api_version and api_version != info.api_version):
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API version ({info.api_version})"
            if api_version != info.api_version
            else f"Object '{kind}' does not match the expected kind '{info.kind}'"
        )
    return body


def _spec(review: dict[str, Any]) -> dict[str, Any]:
    spec = review.get("spec")
    return spec if isinstance(spec, dict) else {}


def _caller(request: web.Request) -> UserInfo:
    user = request.get("user")
    return user if isinstance(user, UserInfo) else ANONYMOUS


def _check_access_spec(info: ResourceInfo, review: dict[str, Any], spec: dict[str, Any]) -> None:
    errs: list[FieldError] = []
    ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if ra is not None and nra is not None:
        errs.append(FieldError("invalid", "spec.nonResourceAttributes", nra, "cannot be specified in combination with resourceAttributes"))
    if ra is None and nra is None:
        errs.append(FieldError("invalid", "spec.resourceAttributes", nra, "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
    meta = review.get("metadata") or {}
    if info.resource != "localsubjectaccessreviews" and any(v for k, v in meta.items() if k != "creationTimestamp"):
        errs.append(FieldError("invalid", "metadata", meta, "must be empty"))
    if errs:
        raise errors.invalid(info.kind, info.group, "", errs)


def _decision_status(decision: Decision) -> dict[str, Any]:
    status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.denied:
        status["denied"] = True
    if decision.reason:
        status["reason"] = decision.reason
    return status


def _answer(info: ResourceInfo, review: dict[str, Any], spec: dict[str, Any] | None, status: dict[str, Any]) -> web.Response:
    meta = dict(review.get("metadata") or {})
    meta.setdefault("creationTimestamp", None)
    out: dict[str, Any] = {"kind": info.kind, "apiVersion": info.api_version, "metadata": meta}
    if spec is not None:
        out["spec"] = spec
    out["status"] = status
    return responses.obj_response(out, 201)
