"""TLS termination: one SSLContext per certificate from `kubernetes.io/tls` Secrets, picked by SNI.

The listening socket has a default context (a self-signed certificate made at start, like ingress-nginx's fake
certificate) whose `sni_callback` swaps in the context for the requested host: exact names first, then
`*.suffix` wildcards. Contexts are built once per Secret resourceVersion (Python's ssl loads keys only from files,
so the PEMs pass through a private temporary directory and are deleted at once).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import ssl
import tempfile
from typing import Any

from kybernetes.pki import issue, make_ca

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def context_from_pem(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.set_alpn_protocols(["http/1.1"])
    d = tempfile.mkdtemp(prefix="kyb-ingress-tls-")
    try:
        os.chmod(d, 0o700)
        cf, kf = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
        with open(cf, "wb") as f:
            f.write(cert_pem)
        fd = os.open(kf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key_pem)
        ctx.load_cert_chain(cf, kf)
    finally:
        for name in ("tls.crt", "tls.key"):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(d, name))
        with contextlib.suppress(OSError):
            os.rmdir(d)
    return ctx


def fake_certificate() -> tuple[bytes, bytes]:
    ca = make_ca("kybernetes-ingress-fake-ca")
    pair = issue(ca, "kybernetes ingress default certificate", dns_names=["ingress.local"], server=True)
    return pair.cert_pem, pair.key_pem


class CertStore:
    def __init__(self) -> None:
        cert, key = fake_certificate()
        self.default = context_from_pem(cert, key)
        self.default.sni_callback = self._sni
        self._by_secret: dict[tuple[str, str], tuple[str, ssl.SSLContext]] = {}  # -> (resourceVersion, ctx)
        self._hosts: dict[str, ssl.SSLContext] = {}

    def update(self, hosts: dict[str, tuple[str, str]], secret: Any) -> None:
        """`hosts`: host -> (namespace, secret name); `secret(ns, name)` returns the cached Secret or None."""
        new_hosts: dict[str, ssl.SSLContext] = {}
        used: set[tuple[str, str]] = set()
        for host, ref in hosts.items():
            s: Obj | None = secret(*ref)
            if s is None:
                continue
            rv = (s.get("metadata") or {}).get("resourceVersion", "")
            cached = self._by_secret.get(ref)
            if cached is None or cached[0] != rv:
                data = s.get("data") or {}
                try:
                    ctx = context_from_pem(base64.b64decode(data.get("tls.crt", "")), base64.b64decode(data.get("tls.key", "")))
                except (ssl.SSLError, ValueError, OSError) as e:
                    log.warning("ingress TLS secret %s/%s unusable: %s", ref[0], ref[1], e)
                    continue
                cached = (rv, ctx)
                self._by_secret[ref] = cached
            used.add(ref)
            new_hosts[host] = cached[1]
        for ref in [r for r in self._by_secret if r not in used]:
            del self._by_secret[ref]
        self._hosts = new_hosts

    def context_for(self, server_name: str) -> ssl.SSLContext | None:
        host = server_name.lower().rstrip(".")
        ctx = self._hosts.get(host)
        if ctx is None:
            _, _, parent = host.partition(".")
            ctx = self._hosts.get("*." + parent) if parent else None
        return ctx

    def _sni(self, sock: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _ctx: ssl.SSLContext) -> int | None:
        if server_name:
            ctx = self.context_for(server_name)
            if ctx is not None:
                sock.context = ctx
        return None
