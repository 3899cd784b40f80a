"""An alert payload as words for people: a title and a body."""

from __future__ import annotations

from datetime import datetime, timezone

# An alert that reaches its receiver this long after the sound (it waited in the outbox
# for a channel that was down) says how late it is, and the date when it is not today's.
LATE_AFTER_S = 120.0


def alert_text(kind: str, payload: dict, now: datetime | None = None) -> tuple[str, str]:
    """(title, body) for a router payload; ``kind`` is ``event_started`` or ``event``;
    ``now``: when it is sent (default: now).

    E.g. ("URGENT: smoke alarm (kitchen)", "heard at 14:03:22, score 0.93"), its end
    "ended: 45.0 s from 14:03:22, peak score 0.97" (the whole sound, also when the
    detector split it at max_duration_s); one sent
    late: "heard at 14:03:22 (sent 2 h 5 min late), score 0.93", with the date before
    the time when it is another day's.
    """
    label = str(payload["label"]).replace("_", " ")
    severity = payload.get("severity")
    prefix = "URGENT: " if severity == "urgent" else ""
    title = f"{prefix}{label} ({payload['node']})"
    if kind == "event_started":
        start = _local_clock(payload["start"], now) + _lateness(payload, now)
        body = f"heard at {start}, score {payload['peak']:.2f}"
    else:  # the whole sound, over the parts of an event split at max_duration_s
        start = _local_clock(payload.get("sound_start") or payload["start"], now)
        duration_s = payload.get("sound_duration_s", payload["duration_s"])
        peak = payload.get("sound_peak", payload["peak"])
        state = "still sounding after" if payload.get("continues") else "ended:"
        body = (f"{state} {duration_s:.1f} s from {start}{_lateness(payload, now)}, "
                f"peak score {peak:.2f}")
        if payload.get("clip"):
            body += f"; clip {payload['clip']}"
    return title, body


def _moment(iso_utc: str) -> datetime:
    return datetime.fromisoformat(iso_utc.replace("Z", "+00:00")).astimezone()


def _local_clock(iso_utc: str, now: datetime | None) -> str:
    """The local time of day, after the date when that is not today's."""
    moment = _moment(iso_utc)
    today = (now or datetime.now(timezone.utc)).astimezone().date()
    return moment.strftime("%H:%M:%S" if moment.date() == today else "%Y-%m-%d %H:%M:%S")


def _lateness(payload: dict, now: datetime | None) -> str:
    """`` (sent 2 h 5 min late)`` for an alert sent LATE_AFTER_S or more after its
    sound (its end, or its start for a start); empty when on time."""
    moment = _moment(payload.get("end") or payload["start"])
    late_s = ((now or datetime.now(timezone.utc)) - moment).total_seconds()
    if late_s < LATE_AFTER_S:
        return ""
    hours, minutes = divmod(int(late_s // 60), 60)
    return f" (sent {f'{hours} h ' if hours else ''}{minutes} min late)"
