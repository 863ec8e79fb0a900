"""Service-account tokens: TokenRequest (`serviceaccounts/{name}/token`) and their authentication.

Tokens are upstream's bound tokens: ES256 JWTs from a key kept in the data directory, with the issuer, audiences,
expiry, a `jti` and the `kubernetes.io` claim naming the service account (and the pod or secret the token is bound
to). A token authenticates as `system:serviceaccount:<ns>:<name>` only while that service account (and the bound
object) still exists with the uid in the token, and only for one of the audiences it was issued for: by default
the API server's own, so `kubectl create token --audience=vault` makes a token the API server refuses.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver import responses
from kybernetes.apiserver.auth import UserInfo
from kybernetes.apiserver.handlers import read_body
from kybernetes.apiserver.request import decode_body
from kybernetes.apiserver.reviews.jwt import SigningKey
from kybernetes.machinery import errors
from kybernetes.machinery.errors import FieldError, StatusError

if TYPE_CHECKING:
    from kybernetes.apiserver.server import APIServer

ISSUER = "https://kubernetes.default.svc.cluster.local"
API_AUDIENCES = (ISSUER,)
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 2**32
CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
_BINDABLE = {"Pod": "pods", "Secret": "secrets"}


@dataclass(frozen=True)
class Authenticated:
    user: UserInfo
    audiences: tuple[str, ...]


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ServiceAccountTokens:
    """Issues tokens for service accounts and checks them against the live objects in the watch cache."""

    def __init__(self, api: APIServer, key: SigningKey) -> None:
        self.api = api
        self.key = key

    # ------------------------------------------------------------------ issuing
    def issue(
        self,
        namespace: str,
        sa: dict[str, Any],
        audiences: list[str],
        expiration_seconds: int,
        bound: dict[str, Any] | None = None,
        now: float | None = None,
    ) -> tuple[str, float]:
        issued = int(now if now is not None else time.time())
        expires = issued + expiration_seconds
        meta = sa.get("metadata") or {}
        private: dict[str, Any] = {
            "namespace": namespace,
            "serviceaccount": {"name": meta.get("name", ""), "uid": meta.get("uid", "")},
        }
        if bound is not None:
            private[bound["kind"].lower()] = {"name": bound["name"], "uid": bound["uid"]}
        claims = {
            "aud": audiences,
            "exp": expires,
            "iat": issued,
            "iss": ISSUER,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": private,
            "nbf": issued,
            "sub": f"system:serviceaccount:{namespace}:{meta.get('name', '')}",
        }
        return self.key.sign(claims), float(expires)

    # ----------------------------------------------------------- authenticating
    def authenticate(self, token: str, audiences: tuple[str, ...] = API_AUDIENCES) -> Authenticated | None:
        if token.count(".") != 2:
            return None
        claims = self.key.verify(token)
        if claims is None or claims.get("iss") != ISSUER:
            return None
        now = time.time()
        try:
            if float(claims["exp"]) < now or float(claims.get("nbf", 0)) > now + 60:
                return None
        except (KeyError, TypeError, ValueError):
            return None
        token_auds = claims.get("aud") or []
        token_auds = [token_auds] if isinstance(token_auds, str) else list(token_auds)
        matched = tuple(a for a in audiences if a in token_auds)
        if not matched:
            return None
        private = claims.get("kubernetes.io") or {}
        namespace = str(private.get("namespace") or "")
        sa = private.get("serviceaccount") or {}
        live = self._live("serviceaccounts", namespace, str(sa.get("name") or ""))
        if live is None or live.get("uid") != sa.get("uid") or live.get("deletionTimestamp"):
            return None
        extra: dict[str, list[str]] = {}
        for kind, resource in _BINDABLE.items():
            ref = private.get(kind.lower())
            if isinstance(ref, dict):
                obj = self._live(resource, namespace, str(ref.get("name") or ""))
                if obj is None or obj.get("uid") != ref.get("uid") or obj.get("deletionTimestamp"):
                    return None
                if kind == "Pod":
                    extra["authentication.kubernetes.io/pod-name"] = [str(ref.get("name"))]
                    extra["authentication.kubernetes.io/pod-uid"] = [str(ref.get("uid"))]
        if claims.get("jti"):
            extra[CREDENTIAL_ID] = [f"JTI={claims['jti']}"]
        user = UserInfo(
            f"system:serviceaccount:{namespace}:{sa.get('name')}",
            str(sa.get("uid") or ""),
            ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
            extra,
        )
        return Authenticated(user, matched)

    def authenticate_request_token(self, token: str) -> UserInfo | None:
        """The Authenticator plug-in: tokens for the API server's own audiences."""
        found = self.authenticate(token)
        return found.user if found is not None else None

    def _live(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        """Metadata of a live object from the watch cache (the authenticator cannot wait for storage)."""
        info = self.api.resources.get("", "v1", resource)
        if info is None or not name:
            return None
        cached = self.api.cache.cache(info.key_prefix).objects.get(info.key(namespace, name))
        if cached is None:
            return None
        meta = cached.decode().get("metadata")
        return meta if isinstance(meta, dict) else None

    # ------------------------------------------------------------ TokenRequest
    async def token_request(
        self, request: web.Request, info: ResourceInfo, namespace: str, name: str, verb: str
    ) -> web.StreamResponse:
        if verb != "create":
            raise errors.method_not_supported("serviceaccounts/token", "", verb)
        body = decode_body(await read_body(request), request.headers.get("Content-Type", ""))
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        meta = body.get("metadata") or {}
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request("the name of the TokenRequest does not match the service account in the URL")
        spec = dict(body.get("spec") or {})
        expiration = spec.get("expirationSeconds")
        if expiration is None:
            expiration = DEFAULT_EXPIRATION_SECONDS
        _validate_expiration(name, expiration)
        audiences = list(spec.get("audiences") or API_AUDIENCES)
        sa, _ = await self.api.store.get_current(info, namespace, name)
        bound = await self._bound_object(namespace, name, spec.get("boundObjectRef"))
        token, expires = self.issue(namespace, sa, audiences, int(expiration), bound)
        spec.update({"audiences": audiences, "expirationSeconds": int(expiration)})
        spec.setdefault("boundObjectRef", None)
        out = {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": _rfc3339(time.time())},
            "spec": spec,
            "status": {"token": token, "expirationTimestamp": _rfc3339(expires)},
        }
        return responses.obj_response(out, 201)

    async def _bound_object(self, namespace: str, sa_name: str, ref: Any) -> dict[str, Any] | None:
        if not ref:
            return None
        if not isinstance(ref, dict):
            raise errors.bad_request("spec.boundObjectRef must be an object")
        kind, api_version, name = ref.get("kind"), ref.get("apiVersion") or "v1", str(ref.get("name") or "")
        resource = _BINDABLE.get(str(kind))
        if resource is None or api_version != "v1":
            raise errors.bad_request(f"cannot bind token to object of type {api_version}, Kind={kind}")
        info = self.api.resources.get("", "v1", resource)
        assert info is not None
        obj, _ = await self.api.store.get_current(info, namespace, name)
        if kind == "Pod" and (obj.get("spec") or {}).get("serviceAccountName", "default") != sa_name:
            raise errors.bad_request(
                f'cannot bind token for serviceaccount "{sa_name}" to pod running with different serviceaccount name.'
            )
        uid = (obj.get("metadata") or {}).get("uid", "")
        if ref.get("uid") and ref["uid"] != uid:
            raise StatusError(
                409, "Conflict",
                f'Operation cannot be fulfilled on {kind} "{name}": the UID in the bound object reference '
                f"({ref['uid']}) does not match the UID in record. The object might have been deleted and then "
                "recreated",
                {"name": name, "kind": str(kind)},
            )
        return {"kind": kind, "name": name, "uid": uid}


def _validate_expiration(name: str, expiration: Any) -> None:
    problem = ""
    if not isinstance(expiration, int) or isinstance(expiration, bool):
        problem = "must be an integer"
    elif expiration < MIN_EXPIRATION_SECONDS:
        problem = "may not specify a duration less than 10 minutes"
    elif expiration > MAX_EXPIRATION_SECONDS:
        problem = "may not specify a duration larger than 2^32 seconds"
    if problem:
        raise errors.invalid(
            "TokenRequest", "authentication.k8s.io", name, [FieldError("invalid", "spec.expirationSeconds", expiration, problem)]
        )
