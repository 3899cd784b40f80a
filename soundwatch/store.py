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
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from soundwatch.detect import Event
from soundwatch.errors import SoundwatchError
from soundwatch.jsonout import to_json

SCHEMA_VERSION = 1

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
                for statement in _SCHEMA.split(";"):  # executescript would COMMIT early
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
