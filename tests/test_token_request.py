"""The token-endpoint request as declared: client authentication, EES selection, endpoint names."""

from __future__ import annotations

import base64
import urllib.parse
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from conformance.errors import ConfigError
from conformance.evidence import EvidenceLog
from conformance.targets.config import load_target
from conformance.under_test import EcsUnderTest, Peers

DELEGATED = Path(__file__).parent.parent / "fixtures" / "targets" / "example-ecs-delegated.toml"


class _Recorder:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

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
    monkeypatch.setattr(ecs, "_eec_at", lambda url, role: recorder)
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
