"""Alerts left open by a run that was killed mid-event (SIGKILL, a power cut, the OOM
killer): their start went out, their end never would.

A run records in its session row (``settings_json``) the process that runs it and the
session key of its alerts (:func:`run_record`). When a later run starts its alerts
(:meth:`~soundwatch.alerts.service.AlertService.start`), :func:`close_interrupted` finds
the sessions never ended whose process, on this machine, no longer exists, and queues an
end for each start of theirs that has none on the same channel: the start's own payload,
``type`` ``event``, ending when the start was sent (its ``duration_s``), with
``interrupted`` true. Receivers then see the sound end (a Home Assistant "last event"
that said "started" for good, an Apprise "dog started" with no end). A session of
another machine, or whose process is alive (another listener on the same database), is
left alone: its own run ends its alerts. Closing twice is impossible: an end, once
queued, is what the next look finds.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import NamedTuple

from soundwatch import processes
from soundwatch.processes import this_process
from soundwatch.times import iso_utc

log = logging.getLogger(__name__)

STARTED, ENDED = "event_started", "event"  # soundwatch.alerts.router's row kinds


class ClosingRow(NamedTuple):
    """An outbox row, as :meth:`~soundwatch.store.EventStore.add_outbox` takes it."""

    channel: str
    kind: str
    alert_key: str
    payload: dict


def run_record(alerts_session: str | None) -> dict:
    """What a run adds to its session's settings: its process
    (:func:`soundwatch.processes.this_process`) and the session key its alerts carry
    (None: no alerts)."""
    return {"process": this_process(), "alerts_session": alerts_session}


def process_gone(record: dict) -> bool:
    """True when ``record`` (a session's :func:`run_record` fields) names a process of
    this machine that no longer runs; False when it runs, is another machine's, or is
    not known (see :func:`soundwatch.processes.process_gone`)."""
    return processes.process_gone(record.get("process") or {})


def local_process_gone(host: str | None, pid: object) -> bool:
    """True when ``pid`` is a process of this machine (``host`` is its name) that no
    longer runs (its id alone: no start time is known); False when it runs, is another
    machine's, or is not known."""
    return processes.process_gone({"host": host, "pid": pid})


def interrupted_end(started: dict) -> dict:
    """The end of an alert whose run died: ``started``'s payload, ending when it was sent
    (its ``duration_s`` after its ``start``), marked ``interrupted``."""
    end = datetime.fromisoformat(started["start"].replace("Z", "+00:00")) + timedelta(
        seconds=float(started.get("duration_s") or 0.0))
    start_s = started.get("start_s")
    return {**started, "type": ENDED, "end": iso_utc(end),
            "end_s": None if start_s is None else round(start_s + (started.get("duration_s")
                                                                   or 0.0), 3),
            "clip": None, "db_id": None, "database_option": None, "continues": False,
            "interrupted": True, "killed": True}


def close_interrupted(store) -> int:
    """Queue the ends of the alerts that runs killed mid-event left open (see the module
    docstring); returns how many."""
    dead = {record["alerts_session"] for record in store.unended_session_records()
            if record.get("alerts_session") and process_gone(record)}
    if not dead:
        return 0
    rows = store.outbox_alert_rows()
    ended = {(row["channel"], row["payload"].get("id")) for row in rows
             if row["kind"] == ENDED}
    closing = [ClosingRow(row["channel"], ENDED, row["alert_key"],
                          interrupted_end(row["payload"]))
               for row in rows if row["kind"] == STARTED
               and row["payload"].get("session") in dead
               and (row["channel"], row["payload"].get("id")) not in ended]
    if closing:
        store.add_outbox(closing)
        alerts = len({row.payload.get("id") for row in closing})
        channels = len({row.channel for row in closing})
        log.warning("%d alert(s) of a run stopped mid-event (killed, or the power cut) "
                    "had gone out without an end%s: their ends are queued now, marked "
                    "interrupted", alerts,
                    f" (on {channels} channels)" if channels > 1 else "")
    return len(closing)
