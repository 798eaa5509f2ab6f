"""The EEC-facing APIs of TS 24.558 the harness drives, and where tokens travel in them.

EDGE-4 (EEC -> ECS): ``POST {apiRoot}/eecs-serviceprovisioning/v1/request`` (ECSServProvReq -> 200 ECSServProvResp).
EDGE-1 (EEC -> EES): ``POST {apiRoot}/eees-eecregistration/v1/registrations`` (EECRegistration -> 201).
No released schema carries EES access tokens, so their place is a declared binding
(:class:`~conformance.targets.model.TokenDelivery`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from conformance.errors import ConfigError
from conformance.targets.model import EecIdentity, TargetConfig

SERVICE_PROVISIONING_PATH = "/eecs-serviceprovisioning/v1/request"
EEC_REGISTRATION_PATH = "/eees-eecregistration/v1/registrations"
EEC_REGISTRATION_SERVICE = "eees-eecregistration"
"""The EES service name a registration invokes, and so the ``scope`` a token needs for it."""


class _Unset:
    def __repr__(self) -> str:
        return "<the EEC's own GPSI>"


OWN_GPSI: Any = _Unset()
"""Default for ``gpsi=``: send the GPSI the target declares for the EEC. ``None`` sends none."""


def _template(config: TargetConfig) -> dict[str, Any]:
    if config.request_template is None:
        return {}
    try:
        body = json.loads(config.request_template.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            config.file, "target.request_template", f"cannot read JSON: {exc}", "point it at a JSON object file"
        ) from exc
    if not isinstance(body, dict):
        raise ConfigError(
            config.file, "target.request_template", "is not a JSON object", "write the request body as a JSON object"
        )
    return body


def request_body(config: TargetConfig, eec: EecIdentity, *, gpsi: Any = OWN_GPSI, **members: Any) -> dict[str, Any]:
    """An ECSServProvReq or EECRegistration body for ``eec``: ``eecId``, ``ueId`` and the template.

    ``members`` override or add members; a member set to ``None`` is removed.
    """
    body = _template(config) | {"eecId": eec.eec_id}
    ue_id = eec.gpsi if gpsi is OWN_GPSI else gpsi
    if ue_id is not None:
        body["ueId"] = ue_id
    body.update(members)
    return {k: v for k, v in body.items() if v is not None}


def ees_infos(response_json: Any) -> list[dict[str, Any]]:
    """Every EESInfo of an ECSServProvResp: ``ednCnfgInfo[].eess[]`` (malformed parts skipped)."""
    if not isinstance(response_json, dict):
        return []
    infos: list[dict[str, Any]] = []
    for edn in response_json.get("ednCnfgInfo") or []:
        if isinstance(edn, dict):
            infos.extend(e for e in edn.get("eess") or [] if isinstance(e, dict))
    return infos


def member_at(obj: dict[str, Any], dotted: str) -> Any:
    """The value at a dotted path (``a.b.c``) in a JSON object, or ``None``."""
    value: Any = obj
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def tokens_in_response(config: TargetConfig, response_json: Any) -> dict[str, Any]:
    """Tokens delivered inside ECSServProvResp, by ``eesId`` (response binding).

    Values are whatever sits at the declared member: usually a compact JWS string.
    EESInfos without the member are absent from the result.
    """
    delivery = config.token_delivery
    member = delivery.member if delivery else "accessToken"
    found: dict[str, Any] = {}
    for info in ees_infos(response_json):
        value = member_at(info, member)
        if value is not None:
            found[str(info.get("eesId"))] = value
    return found


def resolve_pointer(document: Any, pointer: str) -> Any:
    """The value at a JSON Pointer (RFC 6901) in ``document``; raises ``LookupError`` saying which
    reference token does not resolve. Array indices are ``0`` or digits without a leading zero."""
    value: Any = document
    walked = ""
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict):
            if token not in value:
                raise LookupError(f"{walked or 'the root'} has no member {token!r}")
            value = value[token]
        elif isinstance(value, list):
            if not re.fullmatch(r"0|[1-9][0-9]*", token) or int(token) >= len(value):
                raise LookupError(f"{walked or 'the root'} is an array of {len(value)}, no index {token!r}")
            value = value[int(token)]
        else:
            raise LookupError(f"{walked or 'the root'} is {type(value).__name__}, not an object or array")
        walked += f"/{raw}"
    return value
