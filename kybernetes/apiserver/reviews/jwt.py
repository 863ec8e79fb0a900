"""Compact JWS with ES256: just what service-account tokens need, on `cryptography`.

Why not a JWT library: the tokens upstream issues are one fixed shape (ES256 or RS256 header with a key id, a JSON
claim set) and verification is four checks; `cryptography` is already a dependency for the PKI.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

_COORDINATE = 32  # P-256


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SigningKey:
    """An ECDSA P-256 key that signs and verifies ES256 tokens; `kid` is upstream's key id for it."""

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self.key = key
        public_der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = b64url(hashlib.sha256(public_der).digest())

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKey:
        """The key in `path` (PEM), created with mode 0600 on first use so tokens survive restarts."""
        if path.exists():
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{path} does not hold an EC private key")
            return cls(loaded)
        key = cls.generate()
        pem = key.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pem)
        tmp.chmod(0o600)
        tmp.replace(path)
        return key

    def sign(self, claims: dict[str, Any]) -> str:
        header = b64url(orjson.dumps({"alg": "ES256", "kid": self.kid}))
        payload = b64url(orjson.dumps(claims))
        signing_input = f"{header}.{payload}".encode()
        r, s = decode_dss_signature(self.key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(_COORDINATE, "big") + s.to_bytes(_COORDINATE, "big")
        return f"{header}.{payload}.{b64url(signature)}"

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this key signed, or None (malformed, other key, bad signature)."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = orjson.loads(b64url_decode(parts[0]))
            signature = b64url_decode(parts[2])
        except (ValueError, orjson.JSONDecodeError):
            return None
        if not isinstance(header, dict) or header.get("alg") != "ES256" or header.get("kid") != self.kid:
            return None
        if len(signature) != 2 * _COORDINATE:
            return None
        r = int.from_bytes(signature[:_COORDINATE], "big")
        s = int.from_bytes(signature[_COORDINATE:], "big")
        try:
            self.key.public_key().verify(
                encode_dss_signature(r, s), f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256())
            )
            claims = orjson.loads(b64url_decode(parts[1]))
        except (InvalidSignature, ValueError, orjson.JSONDecodeError):
            return None
        return claims if isinstance(claims, dict) else None
