"""Opaque page cursors: the sort key of a page's last row, as URL-safe base64 of JSON. Pure functions."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any


class CursorError(ValueError):
    """A cursor that this server did not hand out (or for another list)."""


def encode(kind: str, key: list[Any]) -> str:
    values = [{"t": v.isoformat()} if isinstance(v, datetime) else v for v in key]
    raw = json.dumps([kind, values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(kind: str, cursor: str | None, types: tuple[type, ...]) -> tuple[Any, ...] | None:
    """The key a cursor holds, checked against ``kind`` and the expected types; None for no cursor."""
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found_kind, values = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise CursorError("cursor is not one this server handed out: use next_cursor from the last page") from exc
    if found_kind != kind or not isinstance(values, list) or len(values) != len(types):
        raise CursorError(f"cursor belongs to another list, not {kind}: use next_cursor from this list's last page")
    out: list[Any] = []
    for value, wanted in zip(values, types, strict=True):
        try:
            if wanted is datetime:
                out.append(datetime.fromisoformat(value["t"]))
            elif wanted is float and isinstance(value, int | float) and not isinstance(value, bool):
                out.append(float(value))
            elif isinstance(value, wanted) and not isinstance(value, bool):
                out.append(value)
            else:
                raise TypeError(value)
        except (TypeError, KeyError, ValueError) as exc:
            raise CursorError("cursor is damaged: use next_cursor from the last page") from exc
    return tuple(out)
