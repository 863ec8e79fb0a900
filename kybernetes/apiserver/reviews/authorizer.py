"""Answering "may this user do this?" for the review endpoints, until RBAC arrives.

The decision is upstream's for two kinds of users: members of `system:masters` may do anything (the privileged
group authorizer, which gives no reason), and every authenticated user has the self-service rules of the default
ClusterRoles system:basic-user, system:discovery and system:public-info-viewer. Anything else is not allowed,
with a reason that says why. A real RBAC authorizer replaces `PrivilegedGroupsAuthorizer` through
`api.authorizer` without touching the review handlers; `Authorizer` is the shape it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from kybernetes.apiserver.auth import UserInfo

MASTERS = "system:masters"
NOT_GRANTED = (
    "no rule grants this: kybernetes does not implement RBAC yet, so only members of system:masters are "
    "allowed beyond the self-service and discovery endpoints"
)


@dataclass(frozen=True)
class Attributes:
    """What a request (or a SubjectAccessReview) asks to do."""

    verb: str
    resource_request: bool = True
    namespace: str = ""
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""

    @classmethod
    def from_review(cls, spec: dict[str, Any]) -> Attributes:
        ra = spec.get("resourceAttributes")
        if isinstance(ra, dict):
            return cls(
                verb=str(ra.get("verb") or ""),
                namespace=str(ra.get("namespace") or ""),
                group=str(ra.get("group") or ""),
                version=str(ra.get("version") or ""),
                resource=str(ra.get("resource") or ""),
                subresource=str(ra.get("subresource") or ""),
                name=str(ra.get("name") or ""),
            )
        nra = spec.get("nonResourceAttributes") or {}
        return cls(verb=str(nra.get("verb") or ""), resource_request=False, path=str(nra.get("path") or ""))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    denied: bool = False


@dataclass
class Rules:
    """SubjectRulesReviewStatus: what a user may do in a namespace."""

    resource_rules: list[dict[str, Any]] = field(default_factory=list)
    non_resource_rules: list[dict[str, Any]] = field(default_factory=list)
    incomplete: bool = False
    evaluation_error: str = ""

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "resourceRules": self.resource_rules,
            "nonResourceRules": self.non_resource_rules,
            "incomplete": self.incomplete,
        }
        if self.evaluation_error:
            out["evaluationError"] = self.evaluation_error
        return out


class Authorizer(Protocol):
    def authorize(self, user: UserInfo, attrs: Attributes) -> Decision: ...

    def rules_for(self, user: UserInfo, namespace: str) -> Rules: ...


# The rules every authenticated user gets from upstream's default ClusterRoles.
BASIC_RESOURCE_RULES: tuple[dict[str, Any], ...] = (
    {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]},
    {
        "verbs": ["create"],
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
    },
)
BASIC_NON_RESOURCE_RULES: tuple[dict[str, Any], ...] = (
    {
        "verbs": ["get"],
        "nonResourceURLs": [
            "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz",
            "/version", "/version/",
        ],
    },
    {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"]},
)
ALL_RESOURCES = {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
ALL_NON_RESOURCES = {"verbs": ["*"], "nonResourceURLs": ["*"]}


def _matches(values: list[str], wanted: str) -> bool:
    return "*" in values or wanted in values


def _url_matches(patterns: list[str], path: str) -> bool:
    for p in patterns:
        if p == "*" or p == path or (p.endswith("*") and path.startswith(p[:-1])):
            return True
    return False


def rule_allows(rule: dict[str, Any], attrs: Attributes) -> bool:
    if not _matches(rule.get("verbs") or [], attrs.verb):
        return False
    if not attrs.resource_request:
        return _url_matches(rule.get("nonResourceURLs") or [], attrs.path)
    if "nonResourceURLs" in rule:
        return False
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    if not _matches(rule.get("apiGroups") or [], attrs.group):
        return False
    if not _matches(rule.get("resources") or [], resource):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


class PrivilegedGroupsAuthorizer:
    """system:masters may do everything; authenticated users get the self-service rules; others nothing."""

    def authorize(self, user: UserInfo, attrs: Attributes) -> Decision:
        if MASTERS in user.groups:
            return Decision(True)
        if "system:authenticated" in user.groups:
            rules = BASIC_RESOURCE_RULES if attrs.resource_request else BASIC_NON_RESOURCE_RULES
            if any(rule_allows(r, attrs) for r in rules):
                return Decision(True, "allowed by the default self-service rules for authenticated users")
        return Decision(False, NOT_GRANTED)

    def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        rules = Rules()
        if MASTERS in user.groups:
            rules.resource_rules.append(dict(ALL_RESOURCES))
            rules.non_resource_rules.append(dict(ALL_NON_RESOURCES))
        if "system:authenticated" in user.groups:
            rules.resource_rules.extend(dict(r) for r in BASIC_RESOURCE_RULES)
            rules.non_resource_rules.extend(dict(r) for r in BASIC_NON_RESOURCE_RULES)
        return rules
