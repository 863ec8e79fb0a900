"""A Client from a kubeconfig file (client certificate or bearer token), for components run outside `kyb server`."""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from kybernetes.client.rest import Client


def client_from_kubeconfig(path: Path, user_agent: str = "kybernetes-hollow") -> Client:
    cfg: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    ctx_name = cfg.get("current-context")
    ctx = next((c["context"] for c in cfg.get("contexts", []) if c.get("name") == ctx_name), None)
    if ctx is None:
        raise ValueError(f"{path}: no current context")
    cluster = next(c["cluster"] for c in cfg.get("clusters", []) if c.get("name") == ctx["cluster"])
    user: dict[str, Any] = next((u["user"] for u in cfg.get("users", []) if u.get("name") == ctx.get("user")), {})
    ca: bytes | None = None
    if cluster.get("certificate-authority-data"):
        ca = base64.b64decode(cluster["certificate-authority-data"])
    elif cluster.get("certificate-authority"):
        ca = Path(cluster["certificate-authority"]).read_bytes()
    cert = user.get("client-certificate")
    key = user.get("client-key")
    with tempfile.TemporaryDirectory(prefix="kyb-hollow-") as tmp:
        if user.get("client-certificate-data") and user.get("client-key-data"):
            cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
            for p, field in ((cert, "client-certificate-data"), (key, "client-key-data")):
                fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(base64.b64decode(user[field]))
        # The SSL context reads the files now; they may go away afterwards.
        return Client(
            cluster["server"],
            ca_pem=ca,
            token=user.get("token"),
            cert_file=cert,
            key_file=key,
            insecure=bool(cluster.get("insecure-skip-tls-verify")),
            user_agent=user_agent,
        )
