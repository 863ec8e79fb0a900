"""The kubelet serving certificate: issued by the cluster CA, reused, reissued when the node's addresses change."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from kybernetes import pki
from kybernetes.streaming.kubeletserver import ensure_serving_certificate, write_pair


def _sans(crt: Path) -> tuple[set[str], set[str]]:
    san = x509.load_pem_x509_certificate(crt.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName)), {str(i) for i in san.get_values_for_type(x509.IPAddress)}


def test_issue_reuse_and_reissue(tmp_path: Path) -> None:
    ca = pki.make_ca()
    write_pair(ca, tmp_path / "ca.crt", tmp_path / "ca.key")
    crt, key = ensure_serving_certificate(tmp_path, "node-a", ["10.0.0.5"])
    assert (key.stat().st_mode & 0o777) == 0o600
    dns, ips = _sans(crt)
    assert {"node-a", "localhost"} <= dns and {"127.0.0.1", "10.0.0.5"} <= ips
    cert = x509.load_pem_x509_certificate(crt.read_bytes())
    assert cert.issuer == x509.load_pem_x509_certificate(ca.cert_pem).subject
    first = crt.read_bytes()
    assert ensure_serving_certificate(tmp_path, "node-a", ["10.0.0.5"])[0].read_bytes() == first
    ensure_serving_certificate(tmp_path, "node-a", ["10.0.0.6"])
    assert crt.read_bytes() != first and "10.0.0.6" in _sans(crt)[1]
