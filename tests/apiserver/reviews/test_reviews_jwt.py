"""ES256 tokens: round trip, tampering, foreign keys and key persistence."""

from __future__ import annotations

from pathlib import Path

from kybernetes.apiserver.reviews.authorizer import Attributes, rule_allows
from kybernetes.apiserver.reviews.jwt import SigningKey, b64url, b64url_decode


def test_round_trip_and_tampering() -> None:
    key = SigningKey.generate()
    token = key.sign({"sub": "x", "n": 1})
    assert key.verify(token) == {"sub": "x", "n": 1}
    header, payload, sig = token.split(".")
    forged = b64url(b64url_decode(payload).replace(b'"x"', b'"y"'))
    assert key.verify(f"{header}.{forged}.{sig}") is None
    assert SigningKey.generate().verify(token) is None
    assert key.verify("not.a.jwt") is None and key.verify("") is None


def test_key_is_persisted_private(tmp_path: Path) -> None:
    path = tmp_path / "pki" / "sa.key"
    first = SigningKey.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = SigningKey.load_or_create(path)
    assert again.kid == first.kid
    assert again.verify(first.sign({"a": 1})) == {"a": 1}


def test_rule_matching() -> None:
    rule = {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "pods/log"], "resourceNames": ["a"]}
    assert rule_allows(rule, Attributes("get", resource="pods", name="a"))
    assert rule_allows(rule, Attributes("get", resource="pods", subresource="log", name="a"))
    assert not rule_allows(rule, Attributes("get", resource="pods", name="b"))
    assert not rule_allows(rule, Attributes("delete", resource="pods", name="a"))
    urls = {"verbs": ["get"], "nonResourceURLs": ["/apis/*", "/version"]}
    assert rule_allows(urls, Attributes("get", resource_request=False, path="/apis/apps/v1"))
    assert not rule_allows(urls, Attributes("get", resource_request=False, path="/metrics"))
