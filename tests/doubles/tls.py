"""A real HTTPS server on 127.0.0.1 with a self-signed certificate made for the test, counting its connections.

The certificate is made with the ``cryptography`` package, or with the ``openssl`` command when that is missing;
with neither, the test is skipped with a reason that says so (never passed silently).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


def self_signed_certificate(directory: Path, hostname: str = "localhost", ip_address: bool = True,
                            ) -> tuple[Path, Path]:
    """(certificate, key) PEM files of a self-signed certificate for ``hostname`` (and 127.0.0.1 unless
    ``ip_address`` is false) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        openssl = shutil.which("openssl")
        if openssl is None:
            pytest.skip("SKIPPED LOUDLY: a TLS test needs the cryptography package or the openssl command to make "
                        "a self-signed certificate, and neither is installed")
        subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", f"/CN={hostname}",
                        "-addext", f"subjectAltName=DNS:{hostname}" + (",IP:127.0.0.1" if ip_address else ""),
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        return cert, key
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(hostname)] + ([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))] if ip_address else [])),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert, key


class _Handler(BaseHTTPRequestHandler):
    server: _TLSHTTPServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.requests.append(self.path)
        path = self.path.split("?", 1)[0].rstrip("/") or "/"  # Mastodon.py asks for /api/v1/instance/
        location = self.path[4:] if self.path.startswith("/to?") else self.server.redirects.get(path)
        if location is not None:  # a redirect to the URL after the "?", or the one set for this path
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body: Any = {"uri": "localhost", "domain": "localhost", "version": "4.3.0", "urls": {}} \
            if path == "/api/v1/instance" else []
        if path == "/api/v1/instance" and self.server.streaming_url is not None:
            body["urls"]["streaming_api"] = self.server.streaming_url
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        pass


class _TLSHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext, port: int = 0) -> None:
        self.context = context
        self.connections = 0  # TCP connections accepted (TLS handshakes attempted)
        self.handshake_failures = 0
        self.requests: list[str] = []
        self.redirects: dict[str, str] = {}  # path → where it redirects to (TLSServer.redirects)
        self.streaming_url: str | None = None  # urls.streaming_api of the instance document (TLSServer.streaming_url)
        super().__init__(("127.0.0.1", port), _Handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, address = super().get_request()
        self.connections += 1
        return sock, address

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(5)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            self.handshake_failures += 1
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()


class TLSServer:
    """An HTTPS server on 127.0.0.1 (on ``port``; 0: any free one) answering the instance document, a redirect to
    ``<url>`` for ``/to?<url>`` (and for a path set in ``redirects``, to where it says) and ``[]`` elsewhere,
    with a self-signed certificate for ``hostname`` (and 127.0.0.1 unless ``ip_address`` is false) made in
    ``directory``. ``connections`` counts TCP connections (each a TLS handshake attempt), ``requests`` the paths
    asked for over TLS. ``client_certificates``: it asks each client for a certificate and refuses one that sends
    none, over TLS 1.2 at most, so that the refusal is an alert within the handshake (a mutual-TLS port's)."""

    def __init__(self, directory: Path, hostname: str = "localhost", ip_address: bool = True, port: int = 0,
                 client_certificates: bool = False) -> None:
        self.hostname = hostname
        self.cert, self.key = self_signed_certificate(directory, hostname, ip_address)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        if client_certificates:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.cert)
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        self._server = _TLSHTTPServer(context, port)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="tls-double",
                                        daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, host: str | None = None) -> str:
        return f"https://{host or self.hostname}:{self.port}"

    @property
    def connections(self) -> int:
        return self._server.connections

    @property
    def requests(self) -> list[str]:
        return self._server.requests

    @property
    def streaming_url(self) -> str | None:
        """The streaming server the instance document names (``urls.streaming_api``; None: it names none)."""
        return self._server.streaming_url

    @streaming_url.setter
    def streaming_url(self, url: str | None) -> None:
        self._server.streaming_url = url

    @property
    def redirects(self) -> dict[str, str]:
        """Path (without query) → the ``Location`` it is redirected to; set by the test."""
        return self._server.redirects

    def __enter__(self) -> TLSServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
