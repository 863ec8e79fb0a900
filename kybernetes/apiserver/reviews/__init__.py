"""Self-service authorization and authentication answers, and service-account tokens.

`install` wires the review resources (`kubectl auth can-i`, `auth can-i --list`, `auth whoami`, TokenReview,
SubjectAccessReview) as create-only endpoints, `serviceaccounts/{name}/token` (`kubectl create token`) as a
subresource, and teaches the authenticator to accept the tokens it issues. The signing key lives in
`<data dir>/pki/service-account.key` so tokens stay valid across restarts.

authentication.k8s.io/v1beta1 SelfSubjectReview is also served, although a stock 1.33 server no longer does: it
is the only version kubectl 1.27's `auth whoami` asks for.
"""

from __future__ import annotations

from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver.reviews.authorizer import (
    Attributes,
    Authorizer,
    Decision,
    PrivilegedGroupsAuthorizer,
    Rules,
)
from kybernetes.apiserver.reviews.endpoints import ReviewEndpoints
from kybernetes.apiserver.reviews.jwt import SigningKey
from kybernetes.apiserver.reviews.tokens import ISSUER, ServiceAccountTokens
from kybernetes.apiserver.server import APIServer

__all__ = [
    "ISSUER",
    "Attributes",
    "Authorizer",
    "Decision",
    "PrivilegedGroupsAuthorizer",
    "Rules",
    "ServiceAccountTokens",
    "install",
]

KEY_FILE = "pki/service-account.key"


def install(api: APIServer) -> ServiceAccountTokens:
    key = SigningKey.load_or_create(api.data_dir / KEY_FILE) if api.data_dir is not None else SigningKey.generate()
    tokens = ServiceAccountTokens(api, key)
    endpoints = ReviewEndpoints(api, tokens)
    if api.authorizer_impl is None:
        api.authorizer_impl = PrivilegedGroupsAuthorizer()
    if api.resources.get("authentication.k8s.io", "v1beta1", "selfsubjectreviews") is None:
        api.resources.add(
            [ResourceInfo("authentication.k8s.io", "v1beta1", "selfsubjectreviews", "SelfSubjectReview", False, ["create"])]
        )
    api.virtual_resources.update(
        {
            ("authorization.k8s.io", "selfsubjectaccessreviews"): endpoints.self_subject_access_review,
            ("authorization.k8s.io", "selfsubjectrulesreviews"): endpoints.self_subject_rules_review,
            ("authorization.k8s.io", "subjectaccessreviews"): endpoints.subject_access_review,
            ("authorization.k8s.io", "localsubjectaccessreviews"): endpoints.subject_access_review,
            ("authentication.k8s.io", "selfsubjectreviews"): endpoints.self_subject_review,
            ("authentication.k8s.io", "tokenreviews"): endpoints.token_review,
        }
    )
    api.extra_subresources[("", "serviceaccounts", "token")] = tokens.token_request
    api.authn.token_authenticators.append(tokens.authenticate_request_token)
    return tokens
