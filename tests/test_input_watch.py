"""People are told when the listener cannot hear (helper-50: a dead microphone reached
no channel), once it lasts ``input_lost_after_s``, and when it hears again."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from soundwatch.alerts.input_watch import INPUT_BACK, INPUT_LOST, InputWatch
from soundwatch.alerts.settings import AlertSettings
from soundwatch.alerts.text import alert_text, start_severity


class Input:
    """A stand-in engine: its problem and a clock the test moves."""

    def __init__(self):
        self.problem: str | None = None
        self.now_s = 0.0


def watched(after_s: float = 60.0):
    source = Input()
    queued: list = []
    watch = InputWatch(lambda: source.problem, queued.extend, ["webhook", "apprise:1a2b"],
                       "kitchen", lambda: "S1", after_s, clock=lambda: source.now_s)
    return source, watch, queued


def advance(source: Input, watch: InputWatch, seconds: float) -> None:
    for _ in range(int(seconds)):
        source.now_s += 1.0
        watch.check()


def test_a_lost_input_is_said_once_after_its_time_then_its_return():
    source, watch, queued = watched(after_s=60.0)
    advance(source, watch, 10)
    source.problem = "input device 'USB mic' stopped delivering audio; retrying every 1 s"
    watch.check()  # seen at once
    advance(source, watch, 59)
    assert queued == []  # under a minute: a device reset passes unsaid
    advance(source, watch, 1)
    assert [(r.channel, r.kind) for r in queued] == [("webhook", INPUT_LOST),
                                                     ("apprise:1a2b", INPUT_LOST)]
    lost = queued[0].payload
    assert lost["id"] == "S1-input-1" and lost["node"] == "kitchen"
    assert lost["problem"].startswith("input device 'USB mic' stopped")
    assert lost["severity"] == "warning"
    advance(source, watch, 300)
    assert len(queued) == 2  # said once, not every second
    source.problem = None
    advance(source, watch, 1)
    back = [r for r in queued if r.kind == INPUT_BACK]
    assert [r.channel for r in back] == ["webhook", "apprise:1a2b"]
    assert back[0].payload["id"] == "S1-input-1" and back[0].alert_key == queued[0].alert_key
    assert back[0].payload["lost_s"] == pytest.approx(361.0)
    # a short glitch afterwards says nothing; a second long one is notice 2
    source.problem = "the input has given only exact zeros for 10 s"
    advance(source, watch, 30)
    source.problem = None
    advance(source, watch, 5)
    assert len(queued) == 4
    source.problem = "again"
    advance(source, watch, 61)
    assert queued[-1].payload["id"] == "S1-input-2"


def test_the_notices_read_as_news_about_the_listener():
    start = "2026-05-01T10:00:00.000Z"
    now = datetime(2026, 5, 1, 10, 1, tzinfo=timezone.utc)
    lost = {"type": INPUT_LOST, "node": "kitchen", "id": "S1-input-1", "start": start,
            "noticed": "2026-05-01T10:01:00.000Z", "severity": "warning",
            "problem": "input device 'USB mic' stopped delivering audio"}
    title, body = alert_text(INPUT_LOST, lost, now)
    assert title == "soundwatch cannot hear (kitchen)"
    assert "input device 'USB mic' stopped delivering audio" in body
    assert "no alert sent, until the input is back" in body and "late" not in body
    assert start_severity(INPUT_LOST, lost) == "warning"
    back = {**lost, "type": INPUT_BACK, "end": "2026-05-01T10:05:00.000Z", "lost_s": 300.0}
    title, body = alert_text(INPUT_BACK, back, now)
    assert title == "soundwatch hears again (kitchen)"
    assert "after 5 min with nothing heard" in body
    assert start_severity(INPUT_BACK, back) is None


def test_the_setting_is_checked():
    assert AlertSettings(input_lost_after_s=-1).problems() == [
        "input_lost_after_s must be >= 0 (0: never), got -1"]
