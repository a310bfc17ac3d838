"""HTTPS served directly by `datason serve --ssl-certfile/--ssl-keyfile` (uvicorn's TLS) on loopback, with
certificates generated at test time by `cryptography`: the client verifies the server against that certificate
(hostname 127.0.0.1 in its subjectAltName), plain HTTP is not answered, and with `--ssl-ca-certs` a client must
present a certificate signed by that CA."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import pathlib
import ssl
import time
from collections.abc import Iterator

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.test_serving_http import Server

TARGET = "tests.serving.apps.secure:echo"
BODY = b'{"features": {"x": 1}}'


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        builder = builder.add_extension(san, critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _write(directory: pathlib.Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    (directory / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{name}.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


class HttpsServer(Server):
    """`datason serve` over TLS: readiness is polled over HTTPS with the client's own TLS context."""

    context: ssl.SSLContext

    def start(self, command: list[str] | None = None) -> Server:
        super().start(command)
        self.url = self.url.replace("http://", "https://")
        return self

    def _wait_ready(self) -> bool:
        assert self.proc is not None
        url = self.url.replace("http://", "https://")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if httpx.get(url + "/ready", verify=self.context, timeout=2).status_code == 200:
                    return True
            except (httpx.TransportError, ssl.SSLError):
                pass
            time.sleep(0.1)
        self.stop()
        return False


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    directory = tmp_path_factory.mktemp("pki")
    self_key = _key()
    _write(directory, "self", _cert("127.0.0.1", self_key, server=True), self_key)
    ca_key = _key()
    ca = _cert("datason test CA", ca_key, ca=True)
    _write(directory, "ca", ca, ca_key)
    server_key, client_key = _key(), _key()
    _write(directory, "server", _cert("127.0.0.1", server_key, (ca, ca_key), server=True), server_key)
    _write(directory, "client", _cert("client-1", client_key, (ca, ca_key)), client_key)
    return directory


@contextlib.contextmanager
def _serve(tmp: pathlib.Path, context: ssl.SSLContext, *options: str) -> Iterator[HttpsServer]:
    server = HttpsServer(tmp, TARGET, *options)
    server.context = context
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_https_with_a_self_signed_certificate(tmp_path_factory: pytest.TempPathFactory, pki: pathlib.Path) -> None:
    trusted = ssl.create_default_context(cafile=str(pki / "self.pem"))  # verification on, hostname checked
    options = ("--ssl-certfile", str(pki / "self.pem"), "--ssl-keyfile", str(pki / "self.key"))
    with _serve(tmp_path_factory.mktemp("https"), trusted, *options) as server:
        assert server.url.startswith("https://127.0.0.1:")
        r = httpx.post(
            server.url + "/predict", content=BODY, headers={"Content-Type": "application/json"}, verify=trusted
        )
        assert r.status_code == 200 and r.json()["prediction"] == {"x": 1}
        assert r.headers["strict-transport-security"] == "max-age=31536000"
        with pytest.raises(httpx.ConnectError):  # the default trust store does not know this certificate
            httpx.get(server.url + "/health", verify=ssl.create_default_context(), timeout=10)
        with pytest.raises(httpx.TransportError):  # plain HTTP on the TLS port gets no answer
            httpx.get(server.url.replace("https://", "http://") + "/health", timeout=10)


def test_client_certificates_are_verified(tmp_path_factory: pytest.TempPathFactory, pki: pathlib.Path) -> None:
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    context.load_cert_chain(str(pki / "client.pem"), str(pki / "client.key"))
    no_cert = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    options = (
        "--ssl-certfile",
        str(pki / "server.pem"),
        "--ssl-keyfile",
        str(pki / "server.key"),
        "--ssl-ca-certs",
        str(pki / "ca.pem"),
    )  # --ssl-client-cert defaults to required with a CA
    with _serve(tmp_path_factory.mktemp("mtls"), context, *options) as server:
        r = httpx.post(
            server.url + "/predict", content=BODY, headers={"Content-Type": "application/json"}, verify=context
        )
        assert r.status_code == 200
        with pytest.raises((httpx.TransportError, ssl.SSLError)):
            # TLS 1.3 reports a missing client certificate on the first read, hence a request rather than a handshake
            httpx.post(server.url + "/predict", content=BODY, verify=no_cert, timeout=10)
