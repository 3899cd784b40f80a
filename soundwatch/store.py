"""The event log: one SQLite file (WAL), sessions, events and gaps, with CSV/JSONL export.

Durability: every finished event is committed on its own, with ``synchronous=FULL``, so a
``kill -9`` (or a power cut) loses at most the event in progress. WAL lets a reader
(``soundwatch events list``, the GUI) query while the monitor writes.

Threads: one connection, guarded by a lock, usable from any thread (the engine worker
writes, the main thread opens and closes).

Times: ``start_s``/``end_s`` are stream-clock seconds since the session started;
``start_time``/``end_time`` are UTC ISO-8601 wall-clock times (session start + stream
time), which is what ``--since`` filters on.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from soundwatch.detect import Event
from soundwatch.errors import SoundwatchError
from soundwatch.jsonout import to_json

SCHEMA_VERSION = 2  # 2: the outbox and node_events tables (alerts, hub)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,          -- UTC ISO-8601
    ended_at TEXT,                     -- NULL while running or after a crash
    source TEXT NOT NULL,              -- device name or file path
    model TEXT NOT NULL,               -- model file path
    model_version TEXT NOT NULL DEFAULT '',
    sample_rate_hz INTEGER NOT NULL,
    settings_json TEXT NOT NULL DEFAULT '{}',
    audio_s REAL                       -- stream seconds processed, set at the end
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    event_id INTEGER NOT NULL,         -- the detector's id within the session
    label TEXT NOT NULL,
    start_s REAL NOT NULL,             -- stream seconds since the session started
    end_s REAL NOT NULL,
    duration_s REAL NOT NULL,
    peak REAL NOT NULL,
    mean REAL NOT NULL,
    start_time TEXT NOT NULL,          -- UTC ISO-8601 wall clock
    end_time TEXT NOT NULL,
    continued_from INTEGER,            -- event_id of the part this one continues
    clip_path TEXT
);
CREATE INDEX IF NOT EXISTS events_start_time ON events(start_time);
CREATE INDEX IF NOT EXISTS events_label ON events(label);
CREATE TABLE IF NOT EXISTS gaps (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    start_s REAL NOT NULL,
    duration_s REAL NOT NULL,
    start_time TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
"""

# Version 2. Alerts waiting for (or done with) delivery, one row per channel, oldest
# first; and, in a hub's database, which node and remote id each event row came from.
_OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,             -- mqtt, webhook, apprise:<hash>, desktop
    kind TEXT NOT NULL,                -- event_started | event
    alert_key TEXT NOT NULL,           -- <node>/<session>-<event id>: receivers dedup on it
    payload_json TEXT NOT NULL,
    created_at TEXT NOT NULL,          -- UTC ISO-8601
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    delivered_at TEXT                  -- NULL until the channel acknowledged it
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(channel, delivered_at, id);
CREATE TABLE IF NOT EXISTS node_events (
    node TEXT NOT NULL,
    remote_id TEXT NOT NULL,           -- the node's <session>-<event id>
    event_row INTEGER NOT NULL REFERENCES events(id),
    PRIMARY KEY (node, remote_id)
);
"""

EXPORT_COLUMNS = ("id", "session_id", "label", "start_time", "end_time", "start_s", "end_s",
                  "duration_s", "peak", "mean", "clip_path", "source", "model")


@dataclass(frozen=True)
class StoredEvent:
    """One row of ``events`` joined with its session."""

    id: int
    session_id: int
    label: str
    start_time: str
    end_time: str
    start_s: float
    end_s: float
    duration_s: float
    peak: float
    mean: float
    clip_path: str | None
    source: str
    model: str

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in EXPORT_COLUMNS}


class EventStore:
    """The SQLite event log at ``path`` (created with its folder if missing).

    Raises:
        SoundwatchError: the file cannot be opened or is not a soundwatch database.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._session_starts: dict[int, datetime] = {}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False,
                                       isolation_level=None)  # autocommit; explicit BEGIN
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._create_schema()
        except (sqlite3.Error, OSError) as exc:
            raise SoundwatchError(
                f"cannot open the event database {self.path}: {exc}. Check the path and its "
                "permissions, or pass another with --db."
            ) from exc

    def _create_schema(self) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                tables = {row[0] for row in self._db.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'")}
                if tables and "schema_version" not in tables:
                    raise SoundwatchError(
                        f"{self.path} is an SQLite file but not a soundwatch event database; "
                        "pass another path with --db."
                    )
                for statement in (_SCHEMA + _OUTBOX_SCHEMA).split(";"):  # no early COMMIT
                    if statement.strip():
                        self._db.execute(statement)
                row = self._db.execute("SELECT version FROM schema_version").fetchone()
                if row is None:
                    self._db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
                elif row[0] > SCHEMA_VERSION:
                    raise SoundwatchError(
                        f"{self.path} has schema version {row[0]}, newer than this soundwatch "
                        f"({SCHEMA_VERSION}); update soundwatch."
                    )
                elif row[0] < SCHEMA_VERSION:  # new tables only: CREATE IF NOT EXISTS did it
                    self._db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------

    def start_session(self, source: str, model: str, sample_rate_hz: int,
                      model_version: str = "", settings: dict | None = None,
                      started_at: datetime | None = None) -> int:
        """Record a new monitoring session; returns its id."""
        started_at = started_at or datetime.now(timezone.utc)
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO sessions (started_at, source, model, model_version, "
                "sample_rate_hz, settings_json) VALUES (?, ?, ?, ?, ?, ?)",
                (_iso(started_at), source, model, model_version, sample_rate_hz,
                 to_json(settings or {}, sort_keys=True)),
            )
            session_id = int(cursor.lastrowid)
        self._session_starts[session_id] = started_at
        return session_id

    def set_session_start(self, session_id: int, started_at: datetime) -> None:
        """Correct a session's start (the wall time of its stream sample 0) before its
        first event, e.g. once a microphone delivered its first block."""
        with self._lock:
            self._db.execute("UPDATE sessions SET started_at = ? WHERE id = ?",
                             (_iso(started_at), session_id))
        self._session_starts[session_id] = started_at

    def end_session(self, session_id: int, audio_s: float | None = None) -> None:
        with self._lock:
            self._db.execute("UPDATE sessions SET ended_at = ?, audio_s = ? WHERE id = ?",
                             (_iso(datetime.now(timezone.utc)), audio_s, session_id))

    def add_event(self, event: Event, session_id: int, clip_path: str | None = None) -> int:
        """Commit one finished event at once; returns its row id."""
        started = self._session_start(session_id)
        with self._lock:
            return self._insert_event(event, session_id, started, clip_path)

    def _insert_event(self, event: Event, session_id: int, started: datetime,
                      clip_path: str | None) -> int:
        cursor = self._db.execute(
            "INSERT INTO events (session_id, event_id, label, start_s, end_s, duration_s, "
            "peak, mean, start_time, end_time, continued_from, clip_path) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (session_id, event.event_id, event.label, event.start_s, event.end_s,
             event.duration_s, float(event.peak), float(event.mean),
             _iso(started + timedelta(seconds=event.start_s)),
             _iso(started + timedelta(seconds=event.end_s)),
             event.continued_from, clip_path),
        )
        return int(cursor.lastrowid)

    def set_clip_path(self, row_id: int, clip_path: str | None) -> None:
        """Attach (or, with None, detach) the clip of an event row."""
        with self._lock:
            self._db.execute("UPDATE events SET clip_path = ? WHERE id = ?", (clip_path, row_id))

    def forget_clips(self, clip_paths: list[str]) -> None:
        """Clear the clip path of rows whose clip was deleted (disk budget)."""
        if not clip_paths:
            return
        with self._lock:
            self._db.executemany("UPDATE events SET clip_path = NULL WHERE clip_path = ?",
                                 [(p,) for p in clip_paths])

    def add_gap(self, session_id: int, start_s: float, duration_s: float,
                reason: str = "") -> None:
        """Record lost audio (overrun, device gone) of ``duration_s`` at stream ``start_s``."""
        started = self._session_start(session_id)
        with self._lock:
            self._db.execute(
                "INSERT INTO gaps (session_id, start_s, duration_s, start_time, reason) "
                "VALUES (?, ?, ?, ?, ?)",
                (session_id, start_s, duration_s, _iso(started + timedelta(seconds=start_s)),
                 reason),
            )

    def _session_start(self, session_id: int) -> datetime:
        if session_id not in self._session_starts:
            with self._lock:
                row = self._db.execute("SELECT started_at FROM sessions WHERE id = ?",
                                       (session_id,)).fetchone()
            if row is None:
                raise ValueError(f"no session {session_id} in {self.path}")
            self._session_starts[session_id] = datetime.fromisoformat(
                row[0].replace("Z", "+00:00"))
        return self._session_starts[session_id]

    # -- reading -------------------------------------------------------------------------

    def recent_events(self, limit: int | None = 100, since: datetime | None = None,
                      label: str | None = None, session_id: int | None = None,
                      newest_first: bool = True) -> list[StoredEvent]:
        """Events filtered by start time (``since``, inclusive), label and session."""
        return list(self.iter_events(limit, since, label, session_id, newest_first))

    def iter_events(self, limit: int | None = None, since: datetime | None = None,
                    label: str | None = None, session_id: int | None = None,
                    newest_first: bool = False) -> Iterator[StoredEvent]:
        clauses, params = [], []
        if since is not None:
            clauses.append("e.start_time >= ?")
            params.append(_iso(since))
        if label is not None:
            clauses.append("e.label = ?")
            params.append(label)
        if session_id is not None:
            clauses.append("e.session_id = ?")
            params.append(session_id)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        order = "DESC" if newest_first else "ASC"
        query = (
            "SELECT e.id, e.session_id, e.label, e.start_time, e.end_time, e.start_s, e.end_s, "
            "e.duration_s, e.peak, e.mean, e.clip_path, s.source, s.model "
            f"FROM events e JOIN sessions s ON s.id = e.session_id {where} "
            f"ORDER BY e.start_time {order}, e.id {order}"
        )
        if limit is not None:
            query += " LIMIT ?"
            params.append(int(limit))
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        for row in rows:
            yield StoredEvent(**{key: row[key] for key in row.keys()})

    def gaps(self, session_id: int | None = None) -> list[dict]:
        query = "SELECT session_id, start_s, duration_s, start_time, reason FROM gaps"
        params: tuple = ()
        if session_id is not None:
            query += " WHERE session_id = ?"
            params = (session_id,)
        with self._lock:
            return [dict(row) for row in self._db.execute(query + " ORDER BY id", params)]

    def sessions(self) -> list[dict]:
        with self._lock:
            return [dict(row) for row in self._db.execute("SELECT * FROM sessions ORDER BY id")]

    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT version FROM schema_version").fetchone()[0])

    # -- outbox (alerts) and hub ---------------------------------------------------------

    def add_outbox(self, rows) -> None:
        """Commit alert rows in one transaction. Each row has ``channel``, ``kind``,
        ``alert_key`` and ``payload`` (a JSON-ready dict), e.g. an
        :class:`~soundwatch.alerts.router.OutboxRow`."""
        with self._lock:
            self._in_transaction(lambda: self._insert_outbox(rows))

    def add_event_with_outbox(self, event: Event, session_id: int, rows,
                              clip_path: str | None = None) -> int:
        """Commit a finished event and its alert rows in one transaction (both or
        neither); returns the event's row id."""
        started = self._session_start(session_id)

        def work():
            row_id = self._insert_event(event, session_id, started, clip_path)
            self._insert_outbox(rows)
            return row_id

        with self._lock:
            return self._in_transaction(work)

    def outbox_pending(self, channel: str, limit: int = 100) -> list[dict]:
        """The oldest undelivered rows of ``channel``: dicts with ``id``, ``kind``,
        ``alert_key``, ``payload`` (dict) and ``attempts``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, alert_key, payload_json, attempts FROM outbox "
                "WHERE channel = ? AND delivered_at IS NULL ORDER BY id LIMIT ?",
                (channel, int(limit))).fetchall()
        return [{"id": r["id"], "kind": r["kind"], "alert_key": r["alert_key"],
                 "payload": json.loads(r["payload_json"]), "attempts": r["attempts"]}
                for r in rows]

    def outbox_delivered(self, outbox_ids: list[int]) -> None:
        """Mark rows delivered (the channel acknowledged them)."""
        now = _iso(datetime.now(timezone.utc))
        with self._lock:
            self._in_transaction(lambda: self._db.executemany(
                "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1 WHERE id = ?",
                [(now, i) for i in outbox_ids]))

    def outbox_failed(self, outbox_id: int, error: str) -> None:
        """Count a failed delivery attempt of a row and keep its error."""
        with self._lock:
            self._db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ? "
                             "WHERE id = ?", (error, outbox_id))

    def outbox_status(self) -> dict[str, dict]:
        """Per channel: ``pending`` (undelivered rows), ``delivered`` and ``last_error``
        (of the oldest undelivered row: the one being retried; None when it has none)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT o.channel, SUM(o.delivered_at IS NULL) AS pending, "
                "SUM(o.delivered_at IS NOT NULL) AS delivered, "
                "(SELECT h.last_error FROM outbox h WHERE h.channel = o.channel AND "
                "h.delivered_at IS NULL ORDER BY h.id LIMIT 1) AS last_error "
                "FROM outbox o GROUP BY o.channel ORDER BY o.channel").fetchall()
        return {r["channel"]: {"pending": int(r["pending"]), "delivered": int(r["delivered"]),
                               "last_error": r["last_error"]} for r in rows}

    def outbox_prune(self, older_than: timedelta) -> int:
        """Delete delivered rows delivered more than ``older_than`` ago; returns how many."""
        cutoff = _iso(datetime.now(timezone.utc) - older_than)
        with self._lock:
            cursor = self._db.execute("DELETE FROM outbox WHERE delivered_at IS NOT NULL AND "
                                      "delivered_at < ?", (cutoff,))
            return cursor.rowcount

    def add_remote_event(self, node: str, remote_id: str, session_id: int,
                         fields: dict) -> int | None:
        """Store an event another node published, once: returns its new row id, or None
        when (``node``, ``remote_id``) is already stored. ``fields``: the
        :mod:`soundwatch.alerts.router` payload (``start``/``end`` are UTC ISO times)."""

        def work():
            if self._db.execute("SELECT 1 FROM node_events WHERE node = ? AND remote_id = ?",
                                (node, remote_id)).fetchone():
                return None
            cursor = self._db.execute(
                "INSERT INTO events (session_id, event_id, label, start_s, end_s, duration_s, "
                "peak, mean, start_time, end_time, continued_from, clip_path) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, int(fields["event_id"]), str(fields["label"]),
                 float(fields["start_s"]), float(fields["end_s"]),
                 float(fields["duration_s"]), float(fields["peak"]),
                 float(fields.get("mean", fields["peak"])), str(fields["start"]),
                 str(fields["end"]), fields.get("continued_from"), fields.get("clip")))
            row_id = int(cursor.lastrowid)
            self._db.execute("INSERT INTO node_events (node, remote_id, event_row) "
                             "VALUES (?, ?, ?)", (node, remote_id, row_id))
            return row_id

        with self._lock:
            return self._in_transaction(work)

    def event_nodes(self, row_ids: list[int]) -> dict[int, str]:
        """The node each of these event rows came from (rows a hub stored only)."""
        if not row_ids:
            return {}
        marks = ",".join("?" * len(row_ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT event_row, node FROM node_events WHERE event_row IN ({marks})",
                [int(i) for i in row_ids]).fetchall()
        return {int(r[0]): r[1] for r in rows}

    def _insert_outbox(self, rows) -> None:
        now = _iso(datetime.now(timezone.utc))
        self._db.executemany(
            "INSERT INTO outbox (channel, kind, alert_key, payload_json, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(r.channel, r.kind, r.alert_key, to_json(r.payload), now) for r in rows])

    def _in_transaction(self, work):
        """Run ``work()`` in one transaction (the caller holds the lock); its result."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            result = work()
            self._db.execute("COMMIT")
            return result
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    # -- export --------------------------------------------------------------------------

    def export(self, path: str | Path | None, fmt: str, stream=None, **filters) -> int:
        """Write events (oldest first) as ``csv`` or ``jsonl`` to ``path`` or ``stream``;
        returns how many. ``filters`` are those of :meth:`iter_events`."""
        if fmt not in ("csv", "jsonl"):
            raise SoundwatchError(f"unknown export format {fmt!r}; use csv or jsonl")
        events = self.iter_events(**filters)
        if stream is not None:
            return _write_events(events, fmt, stream)
        with open(path, "w", encoding="utf-8", newline="") as file:
            return _write_events(events, fmt, file)


def _write_events(events, fmt: str, stream) -> int:
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(stream, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        for event in events:
            writer.writerow(event.to_dict())
            count += 1
    else:
        for event in events:
            stream.write(to_json(event.to_dict()) + "\n")
            count += 1
    return count


def _iso(moment: datetime) -> str:
    """UTC ISO-8601 with milliseconds and a fixed width, so text order is time order."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """A ``--since`` value: ISO date/time (local time unless it has an offset or Z), or a
    relative age like ``30s``, ``15m``, ``2h``, ``7d``, or ``today``."""
    now = now or datetime.now(timezone.utc)
    text = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text.lower() == "today":
        local = now.astimezone()
        return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)
    if len(text) > 1 and text[-1].lower() in units:
        try:
            return now - timedelta(seconds=float(text[:-1]) * units[text[-1].lower()])
        except ValueError:
            pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SoundwatchError(
            f"cannot read the time {text!r}: use ISO (2024-05-01 or 2024-05-01T14:30), a "
            "relative age (30m, 2h, 7d) or 'today'"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.astimezone()  # naive: local time
    return moment.astimezone(timezone.utc)
