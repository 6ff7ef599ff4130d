"""Bearer tokens from ``das users add``: checked against their scrypt hash, cached briefly by their SHA-256."""

from __future__ import annotations

import threading
import time

from das.credentials import token_lookup, token_matches
from das_api.database import Database, Principal

CACHE_SECONDS = 30.0  # a revoked token stops working within this long


class TokenCache:
    def __init__(self, database: Database, ttl_s: float = CACHE_SECONDS) -> None:
        self._database = database
        self._ttl = ttl_s
        self._lock = threading.Lock()
        self._known: dict[str, tuple[float, Principal]] = {}

    def principal(self, token: str) -> Principal | None:
        """The active user whose token this is, or None (unknown, revoked, forged or malformed)."""
        if not token or len(token) > 200 or not token.isascii():
            return None
        lookup = token_lookup(token)  # SHA-256: a cache hit is the same token, so scrypt runs once per TTL
        now = time.monotonic()
        with self._lock:
            cached = self._known.get(lookup)
            if cached and now - cached[0] < self._ttl:
                return cached[1]
        with self._database.as_server() as cur:
            cur.execute(
                "SELECT name, role, token_hash FROM das.api_users WHERE token_lookup = %s AND revoked_at IS NULL",
                (lookup,),
            )
            row = cur.fetchone()
        if row is None or not token_matches(token, row[2]):
            with self._lock:
                self._known.pop(lookup, None)
            return None
        user = Principal(row[0], row[1])
        with self._lock:
            self._known[lookup] = (now, user)
        return user
