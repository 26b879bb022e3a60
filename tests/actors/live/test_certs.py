"""Credentials: made once, reused on restart; kubeconfig merged, not clobbered."""

from __future__ import annotations

import base64
import os

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from actors.live import ADMIN_USER, ensure_credentials, read_tokens, write_kubeconfig


def test_made_once_and_reused(tmp_path) -> None:
    first = ensure_credentials(tmp_path)
    second = ensure_credentials(tmp_path)
    assert first == second
    assert first.ca_pem == second.ca_pem
    assert read_tokens(first.tokens)[first.token][0] == ADMIN_USER
    for secret in (first.key, tmp_path / "pki" / "ca.key", first.tokens):
        assert os.stat(secret).st_mode & 0o777 == 0o600


def test_serving_certificate_names_and_chain(tmp_path) -> None:
    creds = ensure_credentials(tmp_path, hosts=("10.1.2.3", "twin.local"))
    cert = x509.load_pem_x509_certificate(creds.cert.read_bytes())
    ca = x509.load_pem_x509_certificate(creds.ca_pem)
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "kubernetes.default.svc", "twin.local"} <= set(
        sans.get_values_for_type(x509.DNSName))
    assert {"127.0.0.1", "10.1.2.3"} <= {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    again = ensure_credentials(tmp_path, hosts=("10.9.9.9",))  # a new host: a new cert, same CA
    assert again.ca_pem == creds.ca_pem
    assert again.cert.read_bytes() != cert.public_bytes(Encoding.PEM)


def test_kubeconfig_is_merged(tmp_path) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "other",
        "clusters": [{"name": "other", "cluster": {"server": "https://10.0.0.1"}}],
        "contexts": [{"name": "other", "context": {"cluster": "other", "user": "other"}}],
        "users": [{"name": "other", "user": {"token": "x"}}]}))
    write_kubeconfig(path, server="https://127.0.0.1:1234", ca_pem=b"PEM", token="tok")
    write_kubeconfig(path, server="https://127.0.0.1:5678", ca_pem=b"PEM", token="tok")
    config = yaml.safe_load(path.read_text())
    assert config["current-context"] == "kubetwin"
    assert [c["name"] for c in config["clusters"]] == ["other", "kubetwin"]
    ours = config["clusters"][1]["cluster"]
    assert ours == {"server": "https://127.0.0.1:5678",
                    "certificate-authority-data": base64.b64encode(b"PEM").decode()}
    assert config["users"][1] == {"name": "kubetwin", "user": {"token": "tok"}}
    assert os.stat(path).st_mode & 0o777 == 0o600
