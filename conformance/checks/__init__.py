"""Checks: small pure functions over captured evidence that raise CheckFailed."""
