"""Live flags: PostgreSQL LISTEN das_flags (raised by a trigger on das.flags) pushed to open pages.

One thread holds a das_api connection that listens; each notification of a hotlist hit is looked up (as
das_investigator: no plate leaves without that role) and handed to every subscriber's asyncio queue. The
page reads them as server-sent events from GET /api/live.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import select
import threading
from typing import Any

import psycopg2

from das.postgis.serving import FLAG_COLUMNS
from das_api.geojson import jsonable

log = logging.getLogger("das.api.live")

CHANNEL = "das_flags"
QUEUE_SIZE = 200  # a page that stops reading loses its oldest events, never blocks the others


class LiveFlags:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.events_seen = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._listen_forever, name="das-live-flags", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        with self._lock:
            self._subscribers.add((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        with self._lock:
            self._subscribers = {s for s in self._subscribers if s[1] is not queue}

    def publish(self, event: dict[str, Any]) -> None:
        with self._lock:
            targets = list(self._subscribers)
        for loop, queue in targets:
            loop.call_soon_threadsafe(_offer, queue, event)

    def _listen_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except psycopg2.Error as exc:
                log.warning("live flags: lost the database (%s); listening again in 2 s", exc)
                self._stop.wait(2)

    def _listen(self) -> None:
        conn = psycopg2.connect(self._dsn, connect_timeout=5, application_name="das serve live")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"LISTEN {CHANNEL}")
            while not self._stop.is_set():
                if select.select([conn], [], [], 1.0) == ([], [], []):
                    continue
                conn.poll()
                while conn.notifies:
                    note = conn.notifies.pop(0)
                    self.events_seen += 1
                    self._handle(conn, note.payload)
        finally:
            with contextlib.suppress(psycopg2.Error):
                conn.close()

    def _handle(self, conn: Any, payload: str) -> None:
        try:
            event = json.loads(payload)
        except ValueError:
            return
        if event.get("event") != "flag":
            self.publish({"event": "published", "flags": event.get("flags", 0)})
            return
        with conn.cursor() as cur:
            cur.execute("BEGIN")
            try:
                cur.execute("SET LOCAL ROLE das_investigator")
                cur.execute(
                    f"SELECT {', '.join(FLAG_COLUMNS)}, status FROM das.flags WHERE flag_id = %s", (event["flag_id"],)
                )
                row = cur.fetchone()
                names = [d.name for d in cur.description or ()]
            finally:
                cur.execute("ROLLBACK")
        if row is not None:
            self.publish({"event": "flag", "flag": jsonable(dict(zip(names, row, strict=True)))})


def _offer(queue: asyncio.Queue[dict[str, Any]], event: dict[str, Any]) -> None:
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    queue.put_nowait(event)
