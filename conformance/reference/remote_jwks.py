"""The trusted issuer's keys fetched from one configured JWKS URL, as a real token validator does.

An EES provisioned with its ECS's ``jwks_uri`` (RFC 8414 2) rather than with the keys themselves
fetches the key set over TLS verified against a configured CA, caches it, and fetches it again
when a token names a ``kid`` it does not hold (the ECS rotated its key), at most once per
interval, so a stream of tokens with made-up ``kid`` values cannot make it hammer the ECS.

Only the configured URL is ever fetched: nothing in a token (``jku``, ``x5u``, ``kid``) chooses
where keys come from (RFC 8725 3.10). Redirects are not followed, the answer is bounded in time
and size, and a key set that cannot be fetched or parsed trusts nothing (fail closed).
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet

from conformance.reference.tokens import strict_json

__all__ = ["RemoteKeySet"]

_log = logging.getLogger(__name__)
TRUSTED_KEY_TYPES = ("EC", "RSA")


class RemoteKeySet:
    """The public keys at ``url``, fetched lazily over verified TLS and cached.

    ``max_age``: seconds a fetched set is used before it is fetched again. ``refetch_interval``:
    the least time between two fetches caused by an unknown ``kid`` (or after a failed fetch).
    ``fetched`` lists every URL fetched, in order: tests prove nothing else was.
    """

    def __init__(
        self,
        url: str,
        *,
        ca_pem: bytes,
        timeout: float = 3.0,
        max_bytes: int = 64 * 1024,
        max_age: float = 300.0,
        refetch_interval: float = 30.0,
        retry_after_failure: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not url.startswith("https://"):
            raise ValueError(f"a JWKS URL must be https://, not {url!r}")
        self.url, self.timeout, self.max_bytes = url, timeout, max_bytes
        self.max_age, self.refetch_interval, self.retry_after_failure = max_age, refetch_interval, retry_after_failure
        self._context = ssl.create_default_context(cadata=ca_pem.decode("ascii"))
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: list[Key] = []
        self._fetched_at: float | None = None
        self._failed_at: float | None = None
        self.fetched: list[str] = []

    def current_keys(self) -> list[Key]:
        """The cached keys, fetched first when there are none yet or they are older than ``max_age``."""
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self.max_age
            if stale and self._may_fetch(now, self.retry_after_failure):
                self._refresh(now)
            return list(self._keys)

    def refresh_for_unknown_kid(self) -> list[Key]:
        """The keys after a fetch for a ``kid`` not in the cache, unless one happened within ``refetch_interval``."""
        with self._lock:
            now = self._clock()
            last = max(t for t in (self._fetched_at, self._failed_at, float("-inf")) if t is not None)
            if now - last >= self.refetch_interval:
                self._refresh(now)
            return list(self._keys)

    def _may_fetch(self, now: float, backoff: float) -> bool:
        return self._failed_at is None or now - self._failed_at >= backoff

    def _refresh(self, now: float) -> None:
        """Fetch and replace the cached keys; on failure keep the previous ones (a stale set beats none)."""
        self.fetched.append(self.url)
        try:
            self._keys = _usable_keys(self._fetch())
            self._fetched_at, self._failed_at = now, None
        except (httpx.HTTPError, ValueError, JoseError, TypeError, KeyError) as problem:
            _log.warning("JWKS %s not usable: %s", self.url, problem)
            self._failed_at = now

    def _fetch(self) -> Any:
        with (
            httpx.Client(verify=self._context, timeout=self.timeout, follow_redirects=False, trust_env=False) as client,
            client.stream("GET", self.url, headers={"Accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise ValueError(f"answered {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > self.max_bytes:
                    raise ValueError(f"the key set is larger than {self.max_bytes} bytes")
        return strict_json(bytes(body))


def _usable_keys(document: Any) -> list[Key]:
    """The EC and RSA public keys of a JWKS document; private members are dropped, ``oct`` keys ignored."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK Set (RFC 7517 5): no 'keys' array")
    members = [k for k in document["keys"] if isinstance(k, dict) and k.get("kty") in TRUSTED_KEY_TYPES]
    imported = KeySet.import_key_set({"keys": members})
    public = KeySet(list(imported.keys)).as_dict(private=False)
    return list(KeySet.import_key_set(public).keys)
