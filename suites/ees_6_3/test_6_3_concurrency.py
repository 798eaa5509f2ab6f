"""One EEC on many connections at the same moment, as many as the target declares it accepts
(``[target] concurrent_connections``; N/A without it).

A valid token is accepted on every connection that presents it, however many present it at once
(EES-TOK-01; RFC 6750 1.2: a bearer token is good for its lifetime); and registrations of one EEC
racing each other are each answered, with a 201 or a 4xx, never a 5xx or a dropped connection
(EES-ROB-01, best practice: WARN unless ``--strict``).
"""

import pytest

from conformance.checks import concurrency


@pytest.mark.req("EES-TOK-01", "EES-ROB-01")
@pytest.mark.needs("token-authorization", "concurrency")
def test_one_token_on_many_connections_at_once(ees):
    """The same valid token, presented on every connection at once, is accepted on each."""
    token = ees.token()
    exchanges = ees.at_once(lambda eec, label: ees.register(eec, token=token, label=f"registration, {label}"))
    concurrency.token_accepted_on_every_connection(exchanges)
    concurrency.served_at_least_once(exchanges, status=201)
    concurrency.answered_without_server_error(exchanges, requirement="EES-ROB-01")


@pytest.mark.req("EES-ROB-01")
@pytest.mark.needs("local-authorization", "concurrency")
def test_registrations_of_one_eec_race(ees):
    """Registrations of one EEC (allowed by local policy) racing each other each get a 201 or a 4xx."""
    exchanges = ees.at_once(lambda eec, label: ees.register(eec, label=f"registration, {label}"))
    concurrency.served_at_least_once(exchanges, status=201)
    concurrency.answered_without_server_error(exchanges, requirement="EES-ROB-01")
