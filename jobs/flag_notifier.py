"""Send new flags to the configured channels (signed webhook, email), each flag once per channel.

The outbox in PostGIS (das.postgis.outbox) is what makes it once: a flag is claimed before it is sent and
recorded after. A delivery that fails after its own retries is kept as failed, retried later with backoff, and
shown in the engineer view; the flag itself is never touched, so a notifier failure loses nothing.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from das import notify
from das.config import AlertSettings, Settings
from das.postgis import outbox

log = logging.getLogger("das.notifier")

MAX_FLAG_AGE = timedelta(hours=24)  # a notifier started on an old database does not page about last month


def channels(alerts: AlertSettings) -> list[str]:
    """The channels configured: a webhook URL, and/or an SMTP host with recipients."""
    found = []
    if alerts.webhook_url:
        found.append("webhook")
    if alerts.smtp_host and alerts.smtp_to:
        found.append("email")
    return found


def flag_payload(flag: dict[str, Any], channel: str) -> dict[str, Any]:
    """What a receiver gets: the flag's fields and a delivery id that is the same on every retry."""
    out = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in flag.items()}
    return {"event": "flag", "delivery_id": f"{flag['flag_id']}:{channel}", **out}


def email_text(flag: dict[str, Any]) -> tuple[str, str]:
    subject = f"das {flag['flag_type']} lead, score {flag['score']:.2f}"
    lines = [
        str(flag["summary"]),
        "",
        f"flag id: {flag['flag_id']}",
        f"type: {flag['flag_type']}   score: {flag['score']:.3f}   status: {flag['status']}",
        f"window: {flag['window_start']} to {flag['window_end']} (UTC)",
    ]
    if flag.get("latitude") is not None:
        lines.append(f"where: {flag['latitude']:.5f}, {flag['longitude']:.5f}")
    lines += ["", "Open it in das (das serve) to see the evidence; every view is audited."]
    return subject, "\n".join(lines)


def deliver(alerts: AlertSettings, channel: str, flag: dict[str, Any]) -> notify.Delivery:
    if channel == "webhook":
        secret = alerts.webhook_secret.get_secret_value() if alerts.webhook_secret else None
        return notify.post_webhook(alerts.webhook_url or "", flag_payload(flag, channel), secret)
    subject, text = email_text(flag)
    return notify.send_email(alerts, subject, text)


def notify_once(settings: Settings, *, limit: int = 50) -> dict[str, int]:
    """One pass over every channel: claim what is due, send it, record each outcome. Returns sent / failed."""
    alerts = settings.alerts
    counts = {"sent": 0, "failed": 0}
    for channel in channels(alerts):
        due = outbox.claim(
            settings,
            channel,
            min_score=alerts.flag_min_score,
            flag_types=list(alerts.flag_types),
            max_age=MAX_FLAG_AGE,
            limit=limit,
        )
        for flag in due:
            delivery = deliver(alerts, channel, flag)
            outbox.record(settings, flag["flag_id"], channel, delivery.ok, delivery.error)
            counts["sent" if delivery.ok else "failed"] += 1
            if not delivery.ok:
                log.warning("notify %s of flag %s failed: %s", channel, flag["flag_id"], delivery.error)
    return counts


def run_forever(settings: Settings, stop: threading.Event) -> None:
    """Poll every ``flag_poll_seconds`` until ``stop`` is set; a database outage is logged and waited out."""
    from das.errors import DasError

    while not stop.is_set():
        try:
            counts = notify_once(settings)
            if counts["sent"] or counts["failed"]:
                log.info("notifier: %d sent, %d failed", counts["sent"], counts["failed"])
        except DasError as exc:
            log.warning("notifier: %s; trying again", exc)
        stop.wait(settings.alerts.flag_poll_seconds)
