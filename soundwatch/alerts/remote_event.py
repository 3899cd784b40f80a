"""A node's published event, checked before the hub stores it (numpy-free, no I/O).

Anything on the broker can publish on ``<prefix>/<node>/event``: a node of another
version, a test script, a mistake. What the hub stores must read back as an event the
app itself would have written (``soundwatch events list``, exports and alerts read
every row), so each field is checked, and normalised where the app has one form:

- ``node`` must be the topic's node (a node speaks for itself only);
- ``label``: text of 1 to :data:`MAX_LABEL_CHARS` printable characters;
- ``start`` / ``end``: ISO-8601 times with a time zone, stored as UTC (``...Z``, the
  store's form), not before 1970, ``end`` not before ``start`` and at most
  :data:`DURATION_TOLERANCE_S` from ``start + duration_s``, ``start`` not more than
  :data:`MAX_FUTURE_S` ahead of the hub's clock;
- ``start_s`` / ``end_s`` / ``duration_s``: finite, non-negative seconds, ``end_s`` not
  before ``start_s``, ``duration_s`` at most :data:`MAX_DURATION_S`;
- ``clip``: a path on the node's machine, not the hub's: it is not stored (a file of the
  hub's at that path would be taken for the event's audio, e.g. copied as a correction's
  example);
- ``peak`` / ``mean``: scores in [0, 1];
- levels (``level_dbfs``, ``noise_floor_dbfs``, ``snr_db``): finite dB or absent.

:func:`checked_event` raises ValueError naming the first field that fails.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from soundwatch.times import iso_utc

MAX_LABEL_CHARS = 200
# A node's clock may run a little ahead of the hub's; an event more than a day in the
# future is a wrong clock or a wrong payload.
MAX_FUTURE_S = 86400.0
MAX_DURATION_S = 86400.0  # an event part is at most max_duration_s (a day at most) long
DURATION_TOLERANCE_S = 1.0  # end - start against duration_s: rounding, clock steps
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LEVEL_FIELDS = ("level_dbfs", "noise_floor_dbfs", "snr_db")
REQUIRED = ("node", "id", "event_id", "label", "start", "end", "start_s", "end_s",
            "duration_s", "peak")


def checked_event(payload: dict, topic_node: str, now: datetime | None = None) -> dict:
    """``payload`` (a node's ``event`` message, see :mod:`soundwatch.alerts.router`) with
    its fields checked and normalised, ready for
    :meth:`~soundwatch.store.EventStore.add_remote_event`.

    Args:
        payload: the decoded JSON object.
        topic_node: the node named by the topic it came on.
        now: the hub's time (default: now, UTC).

    Raises:
        ValueError: a missing or unusable field, named.
    """
    missing = [key for key in REQUIRED if payload.get(key) is None]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    node = payload["node"]
    if node != topic_node:
        raise ValueError(f"node {node!r} does not match the topic's node {topic_node!r}")
    label = payload["label"]
    if (not isinstance(label, str) or not label.strip() or not label.isprintable()
            or len(label) > MAX_LABEL_CHARS):
        raise ValueError(f"label {label!r} is not 1 to {MAX_LABEL_CHARS} printable "
                         "characters")
    start, end = _utc(payload, "start"), _utc(payload, "end")
    if start < EARLIEST:
        raise ValueError(f"start {payload['start']} is before 1970")
    if end < start:
        raise ValueError("end is before start")
    if start > (now or datetime.now(timezone.utc)) + timedelta(seconds=MAX_FUTURE_S):
        raise ValueError(f"start {payload['start']} is more than a day ahead of the hub's "
                         "clock")
    seconds = {key: _number(payload, key, low=0.0) for key in ("start_s", "end_s",
                                                               "duration_s")}
    if seconds["end_s"] < seconds["start_s"]:
        raise ValueError("end_s is before start_s")
    if seconds["duration_s"] > MAX_DURATION_S:
        raise ValueError(f"duration_s {seconds['duration_s']:g} is over a day")
    if abs((end - start).total_seconds() - seconds["duration_s"]) > DURATION_TOLERANCE_S:
        raise ValueError(f"start {payload['start']} to end {payload['end']} is not "
                         f"duration_s {seconds['duration_s']:g} s long")
    peak = _number(payload, "peak", low=0.0, high=1.0)
    mean = (_number(payload, "mean", low=0.0, high=1.0) if payload.get("mean") is not None
            else peak)
    event_id, continued_from = _integer(payload, "event_id"), payload.get("continued_from")
    if continued_from is not None:
        continued_from = _integer(payload, "continued_from")
    return {**payload, "node": node, "id": str(payload["id"]), "event_id": event_id,
            "label": label, "start": iso_utc(start), "end": iso_utc(end), **seconds,
            "peak": peak, "mean": mean, "continued_from": continued_from, "clip": None,
            **{key: (_number(payload, key) if payload.get(key) is not None else None)
               for key in LEVEL_FIELDS}}


def _utc(payload: dict, key: str) -> datetime:
    text = payload[key]
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{key} {text!r} is not an ISO-8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{key} {text!r} has no time zone")
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"{key} {text!r} is out of range") from None


def _number(payload: dict, key: str, low: float = -math.inf, high: float = math.inf) -> float:
    value = payload[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} {value!r} is not a number")
    value = float(value)
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{key} {value!r} is out of range")
    return value


def _integer(payload: dict, key: str) -> int:
    value = payload[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} {value!r} is not an integer")
    return value
