"""Token facts: the claims and protection of the EES access tokens an ECS issues (6.2)."""

from __future__ import annotations

from typing import Any

from conformance.errors import CheckFailed
from conformance.evidence import TokenFacts

__all__ = ["claim_equals"]


def claim_equals(token: TokenFacts, claim: str, expected: Any, *, meaning: str) -> None:
    """Holds when ``claim`` is present and equal to ``expected`` (``meaning``: what it must name)."""
    if claim not in token.claims:
        raise CheckFailed(
            title=f"{token.label}: claim '{claim}' is missing",
            expected=f"{claim} = {expected!r} ({meaning})",
            actual=f"claims present: {', '.join(sorted(token.claims)) or 'none'}",
        )
    if token.claims[claim] != expected:
        raise CheckFailed(
            title=f"{token.label}: claim '{claim}' does not name {meaning}",
            expected=f"{claim} = {expected!r}",
            actual=f"{claim} = {token.claims[claim]!r}",
        )
