"""The token-endpoint request as declared: client authentication, EES selection, endpoint names."""

from __future__ import annotations

import base64
import urllib.parse
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from conformance.errors import ConfigError
from conformance.evidence import EvidenceLog
from conformance.peers.pki import LeafCert, self_signed_client_cert
from conformance.targets.config import load_target
from conformance.under_test import EcsUnderTest, Peers

DELEGATED = Path(__file__).parent.parent / "fixtures" / "targets" / "example-ecs-delegated.toml"


class _Recorder:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.presented: list[Any] = []

    def presenting(self, credential: Any) -> _Recorder:
        self.presented.append(credential)
        return self

    def send(self, method: str, url: str, **kwargs: Any) -> Any:
        self.sent.append({"method": method, "url": url, **kwargs})
        return None


def _ecs(monkeypatch: pytest.MonkeyPatch, **delivery: Any) -> tuple[EcsUnderTest, _Recorder]:
    monkeypatch.setenv("EXAMPLE_AS_CLIENT_SECRET", "s3cret:with colon")
    config = load_target(DELEGATED, material_must_exist=False)
    assert config.token_delivery is not None
    config = replace(config, token_delivery=replace(config.token_delivery, **delivery))
    ecs = EcsUnderTest(config, Peers(material=None, credentials=None), EvidenceLog())  # type: ignore[arg-type]
    recorder = _Recorder()
    monkeypatch.setattr(ecs, "_eec_at", lambda url, role, presented=None: recorder.presenting(presented))
    return ecs, recorder


def _form(sent: dict[str, Any]) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(sent["content"].decode()))


def test_client_secret_basic(monkeypatch: pytest.MonkeyPatch) -> None:
    ecs, recorder = _ecs(monkeypatch)
    ecs.request_token(ecs.candidates("token")[0])
    (sent,) = recorder.sent
    scheme, _, credential = sent["headers"]["Authorization"].partition(" ")
    user, _, password = base64.b64decode(credential).decode().partition(":")
    assert scheme == "Basic"
    assert urllib.parse.unquote(user) == "eec-0001-client"
    assert urllib.parse.unquote(password) == "s3cret:with colon"
    form = _form(sent)
    assert form == {
        "grant_type": "client_credentials",
        "scope": "eees-eecregistration eees-easdiscovery",
        "resource": "https://ees1.example.test",
    }
    assert sent["url"] == "https://as.example.test:9443/oauth2/token"


def test_client_secret_post_and_audience(monkeypatch: pytest.MonkeyPatch) -> None:
    ecs, recorder = _ecs(monkeypatch, client_auth="client_secret_post", select="audience")
    ecs.request_token(ecs.candidates("token")[0])
    form = _form(recorder.sent[0])
    assert "Authorization" not in recorder.sent[0]["headers"]
    assert form["client_id"] == "eec-0001-client"
    assert form["client_secret"] == "s3cret:with colon"
    assert form["audience"] == "ees1.example.test"
    assert "resource" not in form


def test_tls_client_auth_sends_the_eec_id_and_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    ecs, recorder = _ecs(monkeypatch, client_auth="tls_client_auth", client_id=None, select="scope")
    ecs.request_token(ecs.candidates("token")[0])
    form = _form(recorder.sent[0])
    assert form["client_id"] == "eec-0001"
    assert "client_secret" not in form
    assert "resource" not in form
    assert "audience" not in form
    assert form["scope"]


def _with_oauth_client(ecs: EcsUnderTest, tmp_path: Path) -> LeafCert:
    """The authorized EEC declared with a self-signed OAuth client certificate and key in ``tmp_path``."""
    leaf = self_signed_client_cert("eec-0001 OAuth client")
    (tmp_path / "c.pem").write_bytes(leaf.cert_chain_pems[0].bytes())
    (tmp_path / "c.key").write_bytes(leaf.private_key_pem.bytes())
    eecs = tuple(
        replace(e, oauth_key=tmp_path / "c.key", oauth_cert=tmp_path / "c.pem") if e.role == "authorized" else e
        for e in ecs.config.eecs
    )
    ecs.config = replace(ecs.config, eecs=eecs)
    return leaf


def test_private_key_jwt_signs_an_rfc_7523_assertion_with_the_eec_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ecs, recorder = _ecs(monkeypatch, client_auth="private_key_jwt")
    leaf = _with_oauth_client(ecs, tmp_path)
    ecs.request_token(ecs.candidates("token")[0])
    form = _form(recorder.sent[0])
    assert "Authorization" not in recorder.sent[0]["headers"]
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    public = ECKey.import_key(leaf.certificate.public_bytes(Encoding.PEM))
    token = jwt.decode(form["client_assertion"], public, algorithms=["ES256"])
    assert token.header["alg"] == "ES256"
    claims = token.claims
    assert claims["iss"] == claims["sub"] == "eec-0001-client"
    assert claims["aud"] == "https://as.example.test:9443/oauth2/token"
    assert claims["exp"] > claims["iat"]
    assert claims["jti"]
    assert recorder.presented == [None]  # the EEC's own TLS certificate


def test_private_key_jwt_forgeries(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ecs, recorder = _ecs(monkeypatch, client_auth="private_key_jwt")
    leaf = _with_oauth_client(ecs, tmp_path)
    ees = ecs.candidates("token")[0]
    ecs.request_token(ees, assertion_key=ecs.stranger_key())
    ecs.request_token(ees, assertion_claims={"exp": 1000, "iat": 500})
    public = ECKey.import_key(leaf.certificate.public_bytes(Encoding.PEM))
    signed_elsewhere, expired = (_form(sent)["client_assertion"] for sent in recorder.sent)
    with pytest.raises(JoseError):
        jwt.decode(signed_elsewhere, public, algorithms=["ES256"])
    assert jwt.decode(expired, public, algorithms=["ES256"]).claims["exp"] == 1000


def test_self_signed_tls_client_auth_presents_the_registered_certificate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ecs, recorder = _ecs(monkeypatch, client_auth="self_signed_tls_client_auth", client_id=None)
    leaf = _with_oauth_client(ecs, tmp_path)
    ecs.request_token(ecs.candidates("token")[0])
    assert _form(recorder.sent[0])["client_id"] == "eec-0001"
    (presented,) = recorder.presented
    assert presented.summary().sha256 == leaf.summary().sha256
    forged = dict(ecs.unregistered_self_signed())
    fresh = forged["a fresh self-signed certificate with the registered one's subject"]
    assert fresh.summary().subject == leaf.summary().subject
    assert fresh.summary().sha256 != leaf.summary().sha256


def test_an_unset_secret_is_the_declarations_error(monkeypatch: pytest.MonkeyPatch) -> None:
    ecs, _ = _ecs(monkeypatch)
    monkeypatch.delenv("EXAMPLE_AS_CLIENT_SECRET")
    with pytest.raises(ConfigError, match=r"ecs\.token_delivery\.client_secret_env"):
        ecs.request_token(ecs.candidates("token")[0])


def test_endpoint_names(monkeypatch: pytest.MonkeyPatch) -> None:
    ecs, _ = _ecs(monkeypatch)
    anchor = ecs.config.trust_anchor
    assert ecs.server_name_for("https://127.0.0.1:8443/x") == ("ecs.example.test", anchor)
    assert ecs.server_name_for("https://as.example.test:9443/jwks")[0] == "as.example.test"
    assert ecs.server_name_for("https://keys.example.test/jwks.json") == ("keys.example.test", anchor)
    ecs, _ = _ecs(monkeypatch, server_name=None, token_url="https://AS.example.test:9443/t")
    assert ecs.server_name_for("https://as.example.test:9443/t")[0] == "as.example.test"
