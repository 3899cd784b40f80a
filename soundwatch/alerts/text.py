"""An alert payload as words for people: a title and a body."""

from __future__ import annotations

from datetime import datetime


def alert_text(kind: str, payload: dict) -> tuple[str, str]:
    """(title, body) for a router payload; ``kind`` is ``event_started`` or ``event``.

    E.g. ("URGENT: smoke alarm (kitchen)", "heard at 14:03:22, score 0.93").
    """
    label = str(payload["label"]).replace("_", " ")
    severity = payload.get("severity")
    prefix = "URGENT: " if severity == "urgent" else ""
    title = f"{prefix}{label} ({payload['node']})"
    start = _local_clock(payload["start"])
    if kind == "event_started":
        body = f"heard at {start}, score {payload['peak']:.2f}"
    else:
        body = (f"ended: {payload['duration_s']:.1f} s from {start}, "
                f"peak score {payload['peak']:.2f}")
        if payload.get("clip"):
            body += f"; clip {payload['clip']}"
    return title, body


def _local_clock(iso_utc: str) -> str:
    moment = datetime.fromisoformat(iso_utc.replace("Z", "+00:00"))
    return moment.astimezone().strftime("%H:%M:%S")
