"""The flag notifier's outbox (das.flag_notifications): claim, then send, then record.

A flag is claimed for a channel by inserting its row (the primary key makes a second notifier's claim a no-op)
and the claim is committed before anything is sent. After sending, the row is marked sent or failed. So a flag
is sent once per channel across restarts; the one gap is a crash between a delivery and its record, after which
the stale claim is retried and the receiver may see the delivery twice: every payload carries a stable
``delivery_id`` for it to drop the repeat.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from das.config import Settings
from das.postgis.connection import transaction

STALE_CLAIM = timedelta(minutes=5)  # a claim this old was left by a notifier that died mid-delivery
RETRY_BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))


def claim(
    settings: Settings,
    channel: str,
    *,
    min_score: float,
    flag_types: list[str],
    max_age: timedelta,
    limit: int = 50,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Claim what is due on ``channel``: new flags at or above ``min_score`` (every hotlist hit), failed
    deliveries whose retry time has come, and stale claims. Returns the claimed flags' fields."""
    now = now or datetime.now(UTC)
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO das.flag_notifications (flag_id, channel, state, attempts, claimed_at) "
            "SELECT f.flag_id, %(channel)s, 'sending', 0, %(now)s FROM das.flags AS f "
            "WHERE (f.score >= %(min_score)s OR f.flag_type = 'hotlist_hit') AND f.status <> 'dismissed' "
            "AND (cardinality(%(types)s::text[]) = 0 OR f.flag_type = ANY(%(types)s::text[])) "
            "AND f.detected_at >= %(oldest)s "
            "AND NOT EXISTS (SELECT 1 FROM das.flag_notifications AS n "
            "                WHERE n.flag_id = f.flag_id AND n.channel = %(channel)s) "
            "ORDER BY f.detected_at, f.flag_id LIMIT %(limit)s "
            "ON CONFLICT (flag_id, channel) DO NOTHING RETURNING flag_id",
            {
                "channel": channel,
                "now": now,
                "min_score": min_score,
                "types": flag_types,
                "oldest": now - max_age,
                "limit": limit,
            },
        )
        claimed = [r[0] for r in cur.fetchall()]
        cur.execute(
            "UPDATE das.flag_notifications SET state = 'sending', claimed_at = %(now)s "
            "WHERE channel = %(channel)s AND ((state = 'failed' AND next_attempt_at <= %(now)s) "
            "OR (state = 'sending' AND claimed_at < %(stale)s)) RETURNING flag_id",
            {"channel": channel, "now": now, "stale": now - STALE_CLAIM},
        )
        claimed += [r[0] for r in cur.fetchall()]
        if not claimed:
            return []
        cur.execute(
            "SELECT flag_id, flag_type, score, subject, summary, status, window_start, window_end, longitude, "
            "latitude, detected_at FROM das.flags WHERE flag_id = ANY(%s) ORDER BY detected_at, flag_id",
            (claimed,),
        )
        names = [d.name for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def record(
    settings: Settings, flag_id: str, channel: str, ok: bool, error: str | None, now: datetime | None = None
) -> None:
    """Mark one delivery sent, or failed with its error and the time of its next try (none after the last)."""
    now = now or datetime.now(UTC)
    with transaction(settings) as conn, conn.cursor() as cur:
        if ok:
            cur.execute(
                "UPDATE das.flag_notifications SET state = 'sent', attempts = attempts + 1, sent_at = %s, "
                "last_error = NULL, next_attempt_at = NULL WHERE flag_id = %s AND channel = %s",
                (now, flag_id, channel),
            )
            return
        cur.execute(
            "SELECT attempts FROM das.flag_notifications WHERE flag_id = %s AND channel = %s FOR UPDATE",
            (flag_id, channel),
        )
        row = cur.fetchone()
        attempts = (row[0] if row else 0) + 1
        retry_at = now + RETRY_BACKOFF[attempts - 1] if attempts <= len(RETRY_BACKOFF) else None
        cur.execute(
            "UPDATE das.flag_notifications SET state = 'failed', attempts = %s, last_error = %s, "
            "next_attempt_at = %s WHERE flag_id = %s AND channel = %s",
            (attempts, (error or "unknown error")[:1000], retry_at, flag_id, channel),
        )


def outbox_counts(settings: Settings) -> dict[str, int]:
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT state, count(*) FROM das.flag_notifications GROUP BY state")
        return {state: int(n) for state, n in cur.fetchall()}
