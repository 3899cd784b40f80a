"""Whether the run that wrote a record still runs (soundwatch.processes): by its id, and
where /proc tells, by its start time and the machine's boot, so that an id taken again
after a reboot or by a new run is not taken for the dead run (helper-54)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from soundwatch.processes import boot_id, process_gone, started_ticks, this_process
from soundwatch.store import EventStore

needs_proc = pytest.mark.skipif(started_ticks(os.getpid()) is None or boot_id() is None,
                                reason="start times and boot ids are read from Linux's /proc")


def test_a_running_process_is_alive_and_a_finished_one_gone():
    assert not process_gone(this_process())
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait(10)
    assert process_gone({**this_process(), "pid": finished.pid, "started_ticks": None})
    assert not process_gone({**this_process(), "host": "another-machine", "pid": finished.pid})
    assert not process_gone({})  # nothing known: never taken for dead


@needs_proc
def test_an_id_taken_again_or_a_reboot_means_the_recorded_process_is_gone():
    me = this_process()
    assert process_gone({**me, "started_ticks": me["started_ticks"] - 1})  # id reused
    assert process_gone({**me, "boot_id": "0f" * 16})  # the machine booted since
    assert not process_gone({**me, "boot_id": None, "started_ticks": None})  # id alone


@needs_proc
def test_the_events_of_a_killed_run_whose_id_this_run_has_are_stored(tmp_path, capsys):
    """After a power cut the next run may get the dead run's id: the event the dead run
    was hearing stayed open, never stored (helper-54)."""
    import numpy as np
    import soundfile

    from soundwatch.cli import main
    from soundwatch.detect import Event
    from soundwatch.model import shipped_model_path

    database = tmp_path / "e.sqlite"
    dead = {**this_process(), "started_ticks": this_process()["started_ticks"] - 100}
    with EventStore(database) as store:
        session = store.start_session("mic", "m.onnx", 16000, settings={"process": dead})
        store.open_event(Event("dog", 16000, 40000, 0.9, 0.8, 16000, 1, ongoing=True),
                         session)
    quiet = tmp_path / "quiet.wav"
    soundfile.write(str(quiet), np.zeros(16000, np.float32), 16000)
    assert main(["listen", "--headless", "--file", str(quiet), "--fast", "--db",
                 str(database), "--model", str(shipped_model_path()),
                 "--status-interval", "0"]) == 0
    capsys.readouterr()
    with EventStore(database, read_only=True) as store:
        stored, = store.recent_events()
    assert (stored.label, stored.interrupted, stored.start_s, stored.end_s) == (
        "dog", True, 1.0, 2.5)
