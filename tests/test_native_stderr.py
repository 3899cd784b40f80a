"""ALSA's and PortAudio's own lines on fd 2 while a lost input is reopened: held back and
logged at DEBUG; every other line written then still comes out, in order."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from soundwatch.audio import capture
from soundwatch.audio.native_stderr import library_messages_held
from soundwatch.errors import SoundwatchError

ALSA = b"ALSA lib pulse.c:242:(pulse_connect) PulseAudio: Unable to connect: Connection refused\n"
PORTAUDIO = (b"Expression 'ret' failed in 'src/hostapi/alsa/pa_linux_alsa.c', line: 1736\n"
             b"\n")


def test_the_libraries_lines_go_to_the_debug_log_and_the_rest_comes_out():
    # in a process of its own: pytest's capture gives sys.stderr a file other than fd 2
    script = f"""
import logging, os, sys
from soundwatch.audio.native_stderr import library_messages_held
logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(message)s")
with library_messages_held():
    os.write(2, {ALSA!r})
    logging.getLogger("other").warning("a record another thread logged meanwhile")
    os.write(2, {PORTAUDIO!r})
    sys.stderr.write("a Python line\\n")
os.write(2, b"after\\n")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[:2] == ["WARNING a record another thread logged meanwhile", "a Python line"]
    assert lines[2].startswith("DEBUG ALSA/PortAudio said (2 line(s)): ALSA lib pulse.c")
    assert lines[3:] == ["after"]


def test_an_error_inside_still_restores_fd_2(capfd):
    with pytest.raises(RuntimeError), library_messages_held():
        os.write(2, b"kept\n")
        raise RuntimeError("boom")
    os.write(2, b"then this\n")
    assert capfd.readouterr().err == "kept\nthen this\n"


def test_failed_reconnects_of_a_lost_microphone_print_nothing_of_the_libraries(
        monkeypatch, capfd):
    """A PulseAudio server that is gone: each attempt's ALSA and PortAudio lines went to
    the terminal or the journal, about five a second for as long as it was gone."""
    device = capture.InputDevice(0, "pulse", "ALSA", 2, 48000.0, True)
    monkeypatch.setattr(capture, "find_input_device", lambda selector: device)
    source = capture.MicrophoneSource("pulse")

    def gone(selector):
        os.write(2, ALSA + PORTAUDIO)
        raise SoundwatchError("no such input device")

    monkeypatch.setattr(capture, "find_input_device", gone)
    source._lost_since_s = 0.0
    for attempt in range(3):
        source._try_reconnect(float(attempt))
    assert capfd.readouterr().err == ""
    assert not source.connected and source.reconnects == 0
