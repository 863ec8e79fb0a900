"""The cluster's PKI: a CA, the API server's serving certificate and client certificates.

kubectl only sends credentials over TLS, so the server is HTTPS from the first start. Certificates are created once
in the data directory and reused on restart, so kubeconfigs stay valid.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY_DAYS = 3650


@dataclass(frozen=True)
class CertPair:
    cert_pem: bytes
    key_pem: bytes


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_ca(common_name: str = "kybernetes-ca") -> CertPair:
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue(
    ca: CertPair,
    common_name: str,
    *,
    organizations: list[str] | None = None,
    dns_names: list[str] | None = None,
    ips: list[str] | None = None,
    server: bool = False,
    client: bool = False,
) -> CertPair:
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = _key()
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations or []]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    now = datetime.datetime.now(datetime.UTC)
    usages = []
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    )
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names or []]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips or []]
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = b.sign(ca_key, hashes.SHA256())
    return CertPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    if private:
        os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _load_or_make(dir_: Path, name: str, make: object) -> CertPair:
    crt, key = dir_ / f"{name}.crt", dir_ / f"{name}.key"
    if crt.exists() and key.exists():
        return CertPair(crt.read_bytes(), key.read_bytes())
    assert callable(make)
    pair: CertPair = make()
    _write(crt, pair.cert_pem)
    _write(key, pair.key_pem, private=True)
    return pair


@dataclass(frozen=True)
class ServerPKI:
    dir: Path
    ca: CertPair
    serving: CertPair
    admin: CertPair

    @property
    def ca_file(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def serving_cert_file(self) -> Path:
        return self.dir / "serving.crt"

    @property
    def serving_key_file(self) -> Path:
        return self.dir / "serving.key"


def ensure_server_pki(data_dir: Path, first_service_ip: str, extra_sans: list[str] | None = None) -> ServerPKI:
    d = data_dir / "pki"
    ca = _load_or_make(d, "ca", make_ca)
    hostname = socket.gethostname()
    dns = [
        "localhost",
        hostname,
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ]
    ips = ["127.0.0.1", first_service_ip]
    for san in extra_sans or []:
        try:
            ipaddress.ip_address(san)
            ips.append(san)
        except ValueError:
            dns.append(san)
    serving = _load_or_make(
        d, "serving", lambda: issue(ca, "kube-apiserver", dns_names=dns, ips=sorted(set(ips)), server=True)
    )
    admin = _load_or_make(d, "admin", lambda: issue(ca, "kubernetes-admin", organizations=["system:masters"], client=True))
    return ServerPKI(d, ca, serving, admin)
