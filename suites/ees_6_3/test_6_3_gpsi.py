"""TS 33.558 6.3: "If the EEC sends the GPSI to the EES, then the EES shall also authenticate
the GPSI.\""""

import pytest

from conformance.checks import http


@pytest.mark.req("EES-GPSI-01", "EES-RESP-02")
def test_refuses_gpsi_of_another_eec(ees):
    """The authorized EEC, with its own certificate and its own valid token, registering a foreign ueId is refused."""
    exchange = ees.register(token=ees.token_if_required(), gpsi=ees.foreign_gpsi())
    http.refused(exchange, meaning="the ueId (GPSI) does not belong to the authenticated EEC")
    http.refusal_shape(exchange, status=403)


def _malformed_gpsis(own):
    """GPSIs not of the strict form ``msisdn-<5..15 digits>`` / ``extid-<id>@<domain>``: near misses of the
    EEC's own GPSI (which a normalising parser would take for it) and plainly wrong ones."""
    kind, _, rest = own.partition("-")
    return {
        "upper-case-prefix": f"{kind.upper()}-{rest}",
        "leading-space": f" {own}",
        "trailing-newline": f"{own}\n",
        "plus-sign": f"{kind}-+{rest}",
        "too-few-digits": "msisdn-1234",
        "too-many-digits": "msisdn-1234567890123456",
        "no-prefix": rest,
        "imsi": "imsi-001010123456789",
        "extid-without-domain": "extid-someone",
        "empty": "",
        "not-a-string": 491700000001,
    }


_MALFORMED_KINDS = list(_malformed_gpsis("msisdn-491700000001"))


@pytest.mark.req("EES-GPSI-02", "EES-RESP-02")
@pytest.mark.parametrize("kind", _MALFORMED_KINDS)
def test_refuses_malformed_gpsi(ees, kind):
    """The authorized EEC registering with a malformed ueId (not a GPSI of the strict form) is refused with 400."""
    gpsi = _malformed_gpsis(ees.identity().gpsi)[kind]
    ees.evidence.note("deliberately broken", f"ueId = {gpsi!r} ({kind})")
    exchange = ees.register(token=ees.token_if_required(), gpsi=gpsi)
    http.refused(exchange, meaning=f"the ueId is not a well-formed GPSI ({kind})")
    http.refusal_shape(exchange, status=400)
