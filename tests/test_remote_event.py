"""The hub's check of a node's published event (soundwatch/alerts/remote_event.py), and
a central database holding rows an older hub stored unchecked."""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import datetime, timezone

import pytest

from soundwatch.alerts.remote_event import checked_event
from soundwatch.cli import main
from soundwatch.store import EventStore

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
GOOD = {"type": "event", "node": "kitchen", "id": "3-7", "event_id": 7, "label": "dog",
        "start": "2026-12-01T11:00:00.250Z", "end": "2026-12-01T11:00:02.000Z",
        "start_s": 10.25, "end_s": 12.0, "duration_s": 1.75, "peak": 0.93, "mean": 0.8,
        "snr_db": 12.5}


def test_a_good_event_is_kept_and_its_times_stored_as_utc():
    event = checked_event({**GOOD, "start": "2026-12-02T01:00:00.250+14:00"}, "kitchen", NOW)
    assert event["start"] == "2026-12-01T11:00:00.250Z"  # the store's one form
    assert (event["label"], event["peak"], event["snr_db"]) == ("dog", 0.93, 12.5)
    assert event["level_dbfs"] is None and event["continued_from"] is None


def test_a_nodes_clip_path_is_not_taken_for_a_file_of_the_hubs():
    """A fake node named /etc/passwd as its clip; rejecting the event on the hub then
    copied that file as the correction's "audio"."""
    assert checked_event({**GOOD, "clip": "/etc/passwd"}, "kitchen", NOW)["clip"] is None


@pytest.mark.parametrize("change, problem", [
    ({"duration_s": math.nan}, "duration_s nan is out of range"),
    ({"start_s": math.inf}, "start_s inf is out of range"),
    ({"peak": -5}, "peak -5.0 is out of range"),
    ({"mean": 1.5}, "mean 1.5 is out of range"),
    ({"start": "yesterday"}, "start 'yesterday' is not an ISO-8601 time"),
    ({"start": "2026-12-01T11:00:00"}, "has no time zone"),
    ({"end": "2026-12-01T10:00:00Z"}, "end is before start"),
    ({"start": "9999-12-31T23:00:00Z", "end": "9999-12-31T23:00:01Z"}, "more than a day ahead"),
    ({"end_s": 1.0}, "end_s is before start_s"),
    ({"label": "dog\nbark"}, "printable"),
    ({"label": "  "}, "printable"),
    ({"label": 5}, "printable"),
    ({"node": "garden"}, "does not match the topic's node 'kitchen'"),
    ({"event_id": "7"}, "event_id '7' is not an integer"),
    ({"peak": True}, "peak True is not a number"),
    ({"snr_db": "loud"}, "snr_db 'loud' is not a number"),
    ({"label": None}, "missing label"),
    ({"start": "0001-01-01T00:00:00Z"}, "is before 1970"),
    ({"end": "2026-12-01T11:30:00Z"}, "is not duration_s 1.75 s long"),
    ({"duration_s": 1e6, "end_s": 2e6}, "is over a day"),
])
def test_an_unusable_field_is_named(change, problem):
    with pytest.raises(ValueError) as caught:
        checked_event({**GOOD, **change}, "kitchen", NOW)
    assert problem in str(caught.value)


def test_rows_an_older_hub_stored_unchecked_still_list_and_export(tmp_path, capsys):
    path = tmp_path / "central.sqlite"
    with EventStore(path) as store:
        session = store.start_session("node:n1", "", 0)
    db = sqlite3.connect(path)
    db.execute("INSERT INTO events (session_id, event_id, label, start_s, end_s, duration_s, "
               "peak, mean, start_time, end_time) VALUES (?, 1, 'dog', 0, 1e999, 1, 0.5, "
               "0.5, 'yesterday', 'today')", (session,))
    db.commit()
    db.close()
    assert main(["events", "list", "--db", str(path)]) == 0
    assert "yesterday" in capsys.readouterr().out
    assert main(["events", "export", "--db", str(path), "--format", "jsonl"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["end_s"] is None and row["start_time"] == "yesterday"


def test_a_correction_on_the_hub_never_takes_a_file_named_by_a_nodes_clip(tmp_path, capsys,
                                                                          monkeypatch):
    """A row an older hub stored with a node's clip path (here, a file of the hub's):
    rejecting it copied that file as the example's audio."""
    monkeypatch.setenv("SOUNDWATCH_DATA_DIR", str(tmp_path / "data"))
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0")
    path = tmp_path / "central.sqlite"
    with EventStore(path) as store:
        session = store.start_session("node:n1", "", 0)
        row = store.add_remote_event("n1", "3-7", session,
                                     {**checked_event(GOOD, "kitchen", NOW),
                                      "clip": str(secret)})
    code = main(["events", "reject", str(row), "--db", str(path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    copies = [p for p in tmp_path.rglob("*") if p.is_file() and p.read_bytes() == b"root:x:0:0"]
    assert copies == [secret], copies


def test_a_nodes_interrupted_event_stays_marked_on_the_hub(tmp_path):
    """A node killed mid-sound ends its alert, marked interrupted, from its next run: the
    hub stores that event as the node does, its end not known."""
    with EventStore(tmp_path / "central.sqlite") as store:
        session = store.start_session("node:n1", "", 0)
        for remote_id, mark in (("3-7", True), ("3-8", "yes")):
            store.add_remote_event("n1", remote_id, session, {
                **checked_event({**GOOD, "id": remote_id}, "kitchen", NOW),
                "interrupted": mark})
        assert [e.interrupted for e in store.recent_events(newest_first=False)] == [
            True, False]  # only a JSON true marks it
