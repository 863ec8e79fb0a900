"""Authentication: who is calling, from the TLS client certificate or a bearer token.

Client certificates signed by the cluster CA map CN to the user name and O to groups, as upstream. Bearer tokens
come from a static token file (token,user,uid,"group1,group2") in the data directory; node agents and other
components use those until service-account tokens and RBAC arrive. Every authenticated user also gets the
`system:authenticated` group.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class UserInfo:
    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"username": self.username, "groups": list(self.groups)}
        if self.uid:
            d["uid"] = self.uid
        if self.extra:
            d["extra"] = self.extra
        return d

    @property
    def is_admin(self) -> bool:
        return "system:masters" in self.groups


ANONYMOUS = UserInfo("system:anonymous", groups=("system:unauthenticated",))


# A bearer-token authenticator beyond the static table (service-account JWTs): the user, or None if not its token.
TokenAuthenticator = Callable[[str], "UserInfo | None"]


class Authenticator:
    def __init__(self, token_file: Path | None = None) -> None:
        self.tokens: dict[str, UserInfo] = {}
        self.token_authenticators: list[TokenAuthenticator] = []
        self.token_file = token_file
        if token_file is not None and token_file.exists():
            self._load(token_file.read_text())

    def _load(self, text: str) -> None:
        for row in csv.reader(io.StringIO(text)):
            if len(row) < 3 or row[0].startswith("#"):
                continue
            groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else []) if g)
            self.tokens[row[0]] = UserInfo(row[1], row[2], (*groups, "system:authenticated"))

    def add_token(self, username: str, groups: list[str], token: str | None = None) -> str:
        tok = token or secrets.token_hex(24)
        uid = f"{username}-token"
        self.tokens[tok] = UserInfo(username, uid, (*groups, "system:authenticated"))
        if self.token_file is not None:
            with open(self.token_file, "a", encoding="utf-8") as f:
                f.write(f'{tok},{username},{uid},"{",".join(groups)}"\n')
        return tok

    def authenticate_token(self, tok: str) -> UserInfo | None:
        """The user a bearer token stands for: the static table, then the pluggable authenticators."""
        # A hash lookup: its time does not depend on how much of a wrong token matches.
        user = self.tokens.get(tok)
        if user is not None:
            return user
        for plugin in self.token_authenticators:
            user = plugin(tok)
            if user is not None:
                return user
        return None

    def authenticate(self, request: web.Request) -> UserInfo | None:
        """The caller's identity, ANONYMOUS when no credentials, None when credentials are bad."""
        auth = request.headers.get("Authorization", "")
        if auth:
            scheme, _, tok = auth.partition(" ")
            if scheme.lower() != "bearer" or not tok:
                return None
            return self.authenticate_token(tok.strip())
        transport = request.transport
        if transport is not None:
            cert = transport.get_extra_info("peercert")
            if cert:
                cn = ""
                orgs: list[str] = []
                for rdn in cert.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            cn = v
                        elif k == "organizationName":
                            orgs.append(v)
                if cn:
                    return UserInfo(cn, "", (*orgs, "system:authenticated"))
        return ANONYMOUS
