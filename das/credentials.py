"""Secrets: from the environment (or ``.env``, or an Airflow Connection), else generated once into
``DAS_HOME/secrets/`` with owner-only permissions. Never logged, never written to the lake or the repository.

- the pseudonymisation key (``DAS_PSEUDONYM_KEY``, else ``secrets/pseudonym.key``);
- local database passwords (the superuser, the pipeline's owner role, Airflow's role);
- hashes of API tokens live in the database, never the tokens themselves (``das.api_users``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets as _random
from pathlib import Path

from das.config import Settings

SECRETS_DIR_MODE = 0o700
SECRET_FILE_MODE = 0o600


def secrets_dir(settings: Settings) -> Path:
    path = settings.home_abs / "secrets"
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(SECRETS_DIR_MODE)
    return path


def generated(settings: Settings, name: str, nbytes: int = 32) -> str:
    """The secret ``name`` from ``DAS_HOME/secrets/<name>``, generated (random, URL-safe) the first time."""
    path = secrets_dir(settings) / name
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    value = _random.token_urlsafe(nbytes)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def pseudonym_key(settings: Settings) -> bytes:
    """The key of plate pseudonyms: ``DAS_PSEUDONYM_KEY``, else a generated ``secrets/pseudonym.key``."""
    if settings.pseudonym_key is not None:
        return settings.pseudonym_key.get_secret_value().encode()
    return generated(settings, "pseudonym.key").encode()


def plate_hash(key: bytes, plate: str) -> str:
    """HMAC-SHA256 of a normalised plate, hex: the same plate gives the same pseudonym under one key."""
    return hmac.new(key, plate.encode(), hashlib.sha256).hexdigest()


def flag_id_salt(key: bytes) -> str:
    """What flag ids are salted with: derived from the pseudonym key, so an id is not a plain hash of a plate."""
    return hmac.new(key, b"das:flag-id", hashlib.sha256).hexdigest()[:32]


def new_token() -> str:
    """An API token: 256 random bits, URL-safe."""
    return "das_" + _random.token_urlsafe(32)


def token_hash(token: str, salt: bytes | None = None) -> str:
    """scrypt of a token, as ``scrypt$<salt hex>$<hash hex>`` (only this is stored)."""
    salt = salt or _random.token_bytes(16)
    digest = hashlib.scrypt(token.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def token_matches(token: str, stored: str) -> bool:
    try:
        scheme, salt_hex, _ = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    return hmac.compare_digest(token_hash(token, bytes.fromhex(salt_hex)), stored)


def token_lookup(token: str) -> str:
    """A fast, non-reversible index of a token (its SHA-256) to find its row before the slow scrypt check."""
    return hashlib.sha256(token.encode()).hexdigest()
