"""Credentials of the live API: a CA, a serving certificate, an admin token, a kubeconfig.

What it is: ``ensure_credentials(data_dir)`` makes, on first start, what kubeadm or
minikube make — a self-signed cluster CA, a serving certificate for 127.0.0.1/localhost
(and the ``kubernetes.default.svc`` names) signed by it, and an admin bearer token kept in
kube-apiserver's ``--token-auth-file`` CSV format (``token,user,uid,"group1,group2"``) —
and reuses them on every later start, so kubeconfigs written before keep working.
``write_kubeconfig`` adds (or replaces) the ``kubetwin`` cluster, user and context in a
kubeconfig file and makes it current, keeping whatever else the file holds.

Why TLS at all: client-go sends a bearer token only over https ("only try to read the
auth information if we are secure"), so authentication requires TLS.

Concurrency model: none; blocking file and crypto calls, made once at start-up.

Invariants: private keys and the token file are written mode 0600, atomically (temporary
file, then rename); a serving certificate that expires within 30 days or lacks a
requested host is replaced, the CA and the token never are.
"""

from __future__ import annotations

import base64
import csv
import datetime
import io
import ipaddress
import os
import secrets
from pathlib import Path
from typing import Any

import msgspec
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["ADMIN_GROUPS", "ADMIN_USER", "Credentials", "default_data_dir",
           "ensure_credentials", "read_tokens", "write_kubeconfig"]

ADMIN_USER = "kubernetes-admin"
ADMIN_GROUPS = ("system:masters", "system:authenticated")
_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
          "kubernetes.default.svc.cluster.local")
_RENEW_BEFORE = datetime.timedelta(days=30)


def default_data_dir() -> Path:
    """Where ``kubetwin up`` keeps its data unless told otherwise: ``~/.kubetwin``."""
    return Path.home() / ".kubetwin"


class Credentials(msgspec.Struct, frozen=True, kw_only=True):
    ca_cert: Path
    cert: Path
    key: Path
    tokens: Path
    token: str  # the admin bearer token

    @property
    def ca_pem(self) -> bytes:
        return self.ca_cert.read_bytes()


def _write(path: Path, data: bytes, *, private: bool) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _make_ca(pki: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubetwin-ca")])
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    _write(pki / "ca.key", _key_pem(key), private=True)
    _write(pki / "ca.crt", cert.public_bytes(serialization.Encoding.PEM), private=False)


def _sans(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for h in dict.fromkeys((*_NAMES, "127.0.0.1", "::1", *hosts)):
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            out.append(x509.DNSName(h))
    return out


def _make_serving(pki: Path, hosts: tuple[str, ...]) -> None:
    ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), None)
    ca = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{pki / 'ca.key'} is not an EC key")
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                        "kube-apiserver")]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(_sans(hosts)), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write(pki / "apiserver.key", _key_pem(key), private=True)
    _write(pki / "apiserver.crt", cert.public_bytes(serialization.Encoding.PEM), private=False)


def _serving_ok(pki: Path, hosts: tuple[str, ...]) -> bool:
    path = pki / "apiserver.crt"
    if not path.exists() or not (pki / "apiserver.key").exists():
        return False
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    if cert.not_valid_after_utc - _RENEW_BEFORE < _now():
        return False
    have = set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    return set(_sans(hosts)) <= have


def read_tokens(path: Path) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """A static token file: token -> (user, uid, groups)."""
    out: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    for row in csv.reader(io.StringIO(path.read_text())):
        if len(row) >= 3 and row[0]:
            groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else ()) if g)
            out[row[0]] = (row[1], row[2], groups)
    return out


def _ensure_token(pki: Path) -> str:
    path = pki / "tokens.csv"
    if path.exists():
        for token, (user, _, _) in read_tokens(path).items():
            if user == ADMIN_USER:
                return token
    token = secrets.token_urlsafe(32)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(
        [token, ADMIN_USER, ADMIN_USER, ",".join(ADMIN_GROUPS)])
    _write(path, buf.getvalue().encode(), private=True)
    return token


def ensure_credentials(data_dir: str | os.PathLike[str], *,
                       hosts: tuple[str, ...] = ()) -> Credentials:
    """Make (first start) or reuse (later starts) the CA, serving certificate and token
    under ``<data_dir>/pki``; ``hosts`` are extra names or addresses to serve under."""
    pki = Path(data_dir) / "pki"
    pki.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not (pki / "ca.crt").exists() or not (pki / "ca.key").exists():
        _make_ca(pki)
    if not _serving_ok(pki, hosts):
        _make_serving(pki, hosts)
    token = _ensure_token(pki)
    return Credentials(ca_cert=pki / "ca.crt", cert=pki / "apiserver.crt",
                       key=pki / "apiserver.key", tokens=pki / "tokens.csv", token=token)


def _named(items: list[Any], name: str, key: str, value: dict[str, Any]) -> list[Any]:
    kept = [i for i in items if isinstance(i, dict) and i.get("name") != name]
    return [*kept, {"name": name, key: value}]


def write_kubeconfig(path: str | os.PathLike[str], *, server: str, ca_pem: bytes, token: str,
                     name: str = "kubetwin", namespace: str = "default") -> None:
    """Add the ``name`` cluster/user/context to a kubeconfig (creating the file) and make
    it the current context; other entries are kept."""
    target = Path(path).expanduser()
    config: dict[str, Any] = {}
    if target.exists():
        loaded = yaml.safe_load(target.read_text())
        config = loaded if isinstance(loaded, dict) else {}
    config.setdefault("apiVersion", "v1")
    config.setdefault("kind", "Config")
    config.setdefault("preferences", {})
    ca = base64.b64encode(ca_pem).decode()
    config["clusters"] = _named(config.get("clusters") or [], name, "cluster",
                                {"server": server, "certificate-authority-data": ca})
    config["users"] = _named(config.get("users") or [], name, "user", {"token": token})
    config["contexts"] = _named(config.get("contexts") or [], name, "context",
                                {"cluster": name, "user": name, "namespace": namespace})
    config["current-context"] = name
    target.parent.mkdir(parents=True, exist_ok=True)
    _write(target, yaml.safe_dump(config, sort_keys=False).encode(), private=True)
