"""Outbound notifications: a signed JSON webhook and SMTP email, each with retries and backoff.

The webhook body is canonical JSON; ``X-Das-Signature: sha256=<hex>`` is its HMAC-SHA256 under the shared secret,
so the receiver can check it came from das and was not altered. A delivery that still fails after its retries is
returned as failed (the caller records it): it never raises, so a notifier's failure never loses what it reports.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from das.config import AlertSettings

SIGNATURE_HEADER = "X-Das-Signature"


@dataclass(frozen=True)
class Delivery:
    channel: str
    ok: bool
    attempts: int
    error: str | None = None


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(
    url: str, payload: dict[str, Any], secret: str | None, *, attempts: int = 4, backoff_s: float = 0.5
) -> Delivery:
    """POST ``payload``; retries on connection errors, 429 and 5xx with exponential backoff, not on other 4xx."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "das-notifier"}
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, body)
    error = None
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                if 200 <= response.status < 300:
                    return Delivery("webhook", True, attempt)
                error = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code}"
            if 400 <= exc.code < 500 and exc.code != 429:
                return Delivery("webhook", False, attempt, error)
        except (urllib.error.URLError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        if attempt < attempts:
            time.sleep(backoff_s * 2 ** (attempt - 1))
    return Delivery("webhook", False, attempts, error)


def send_email(
    alerts: AlertSettings, subject: str, text: str, *, attempts: int = 3, backoff_s: float = 0.5
) -> Delivery:
    message = EmailMessage()
    message["From"] = alerts.smtp_from
    message["To"] = ", ".join(alerts.smtp_to)
    message["Subject"] = subject
    message.set_content(text)
    error = None
    for attempt in range(1, attempts + 1):
        try:
            with smtplib.SMTP(alerts.smtp_host or "localhost", alerts.smtp_port, timeout=10) as smtp:
                if alerts.smtp_starttls:
                    smtp.starttls()
                if alerts.smtp_user and alerts.smtp_password:
                    smtp.login(alerts.smtp_user, alerts.smtp_password.get_secret_value())
                smtp.send_message(message)
            return Delivery("email", True, attempt)
        except (smtplib.SMTPException, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            if attempt < attempts:
                time.sleep(backoff_s * 2 ** (attempt - 1))
    return Delivery("email", False, attempts, error)


def notify(alerts: AlertSettings, subject: str, payload: dict[str, Any]) -> list[Delivery]:
    """Send to every configured channel; returns what happened on each."""
    sent = []
    if alerts.webhook_url:
        secret = alerts.webhook_secret.get_secret_value() if alerts.webhook_secret else None
        sent.append(post_webhook(alerts.webhook_url, {"subject": subject, **payload}, secret))
    if alerts.smtp_host and alerts.smtp_to:
        text = "\n".join(f"{k}: {v}" for k, v in payload.items())
        sent.append(send_email(alerts, subject, text))
    return sent
