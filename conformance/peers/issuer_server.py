"""The fake ECS's published keys: its JWKS and RFC 8414 metadata over HTTPS on loopback.

An EES that fetches its issuer's keys from a URL (as it would from a standard OAuth 2.0
authorization server) is pointed at this server::

    GET /jwks.json                                   the issuer's public keys (RFC 7517 5)
    GET /.well-known/jwks.json                       the same
    GET /.well-known/oauth-authorization-server      RFC 8414 metadata: issuer, jwks_uri

The server certificate is issued by the harness CA (``ca.pem`` of the harness material, which
the vendor already provisions) for the issuer's host name and 127.0.0.1. Only loopback is
served: the harness never exposes anything beyond the machine it runs on.
"""

from __future__ import annotations

import http.server
import json
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance.errors import ConfigError
from conformance.peers.pki import TestCA

__all__ = ["JWKS_PATH", "METADATA_PATH", "IssuerServer", "issuer_host"]

JWKS_PATH = "/jwks.json"
METADATA_PATH = "/.well-known/oauth-authorization-server"
LOOPBACK = "127.0.0.1"


def issuer_host(issuer: str) -> str:
    """The host name of an issuer value: the FQDN itself, or the host of an https URL."""
    return (urlsplit(issuer).hostname or issuer) if issuer.startswith("https://") else issuer.rstrip(".")


class IssuerServer:
    """Serves one JWKS and its metadata on ``127.0.0.1:port`` until :meth:`stop` (port 0: any free one)."""

    def __init__(self, jwks: dict[str, Any], *, issuer: str, ca: TestCA, port: int = 0) -> None:
        self.jwks, self.issuer, self.host = jwks, issuer, issuer_host(issuer)
        leaf = ca.issue_server_cert(self.host, "localhost", LOOPBACK)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.minimum_version = ssl.TLSVersion.TLSv1_2
        with tempfile.TemporaryDirectory(prefix="issuer-tls-") as directory:
            chain, key = Path(directory, "chain.pem"), Path(directory, "key.pem")
            chain.write_bytes(b"".join(pem.bytes() for pem in leaf.cert_chain_pems))
            key.touch(mode=0o600)
            key.write_bytes(leaf.private_key_pem.bytes())
            self._context.load_cert_chain(chain, key)
        try:
            self._httpd = http.server.ThreadingHTTPServer((LOOPBACK, port), self._handler())
        except OSError as exc:
            raise ConfigError(
                "<harness>",
                "ees.token_issuer.jwks_port",
                f"cannot serve on {LOOPBACK}:{port} ({exc.strerror})",
                "choose a free port",
            ) from None
        self._httpd.daemon_threads = True
        self._httpd.socket = self._context.wrap_socket(
            self._httpd.socket,
            server_side=True,
            do_handshake_on_connect=False,  # in the handler thread
        )
        self.port: int = self._httpd.server_address[1]
        self.requests: list[str] = []
        """The path of every GET served, in order: who fetched the keys, and how often."""
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The URL a vendor configures: the issuer's host name (resolved to 127.0.0.1 by the EES host)."""
        return f"https://{self.host}:{self.port}"

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}{JWKS_PATH}"

    def metadata(self) -> dict[str, Any]:
        """RFC 8414 2 metadata; ``issuer`` is a URL there, so an FQDN issuer is given as https://FQDN."""
        identifier = self.issuer if self.issuer.startswith("https://") else f"https://{self.host}"
        return {
            "issuer": identifier,
            "jwks_uri": self.jwks_url,
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["tls_client_auth"],
            "response_types_supported": ["token"],
        }

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                path = self.path.split("?", 1)[0]
                documents = {JWKS_PATH: server.jwks, "/.well-known/jwks.json": server.jwks}
                documents[METADATA_PATH] = server.metadata()
                if path not in documents:
                    self.send_error(404)
                    return
                body = json.dumps(documents[path], indent=1).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "max-age=60")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> IssuerServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="issuer-jwks", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> IssuerServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
