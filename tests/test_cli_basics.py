"""The command line: help, device listing under the virtual mic, and a clean SIGTERM."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import tone, write_wav

SOUNDWATCH = [sys.executable, "-m", "soundwatch"]


def run(*args, timeout=60):
    return subprocess.run([*SOUNDWATCH, *args], capture_output=True, text=True, timeout=timeout)


def test_help_lists_the_commands():
    result = run("--help")
    assert result.returncode == 0
    for command in ("listen", "devices"):
        assert command in result.stdout


@pytest.mark.pulse
def test_devices_lists_the_virtual_microphone_and_marks_the_default(pulse_mic):
    result = run("devices")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(" pulse " in line for line in lines)
    assert sum(line.startswith("*") for line in lines[1:-1]) == 1
    assert "default input" in lines[-1]


def test_unknown_device_is_a_clear_error():
    result = run("listen", "--headless", "--device", "no-such-microphone-xyz", "--duration", "1")
    assert result.returncode == 2
    assert "soundwatch: error:" in result.stderr
    assert "Traceback" not in result.stderr


def test_listen_on_a_file_streams_and_stops_cleanly_on_sigterm(tmp_path):
    path = write_wav(tmp_path / "long.wav", np.tile(tone(440, 1.0), 30))
    process = subprocess.Popen(
        [*SOUNDWATCH, "listen", "--headless", "--file", str(path), "--status-interval", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # its own data and config folders: never the user's (or another checkout's) database
        env={**os.environ, "SOUNDWATCH_DATA_DIR": str(tmp_path / "data"),
             "SOUNDWATCH_CONFIG_DIR": str(tmp_path / "config")},
    )
    try:
        first_line = process.stdout.readline()  # a status line: the engine is running
        assert "dBFS" in first_line, first_line + process.stderr.read()
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert "stopped:" in out


def test_listen_on_a_corrupt_file_names_the_file(tmp_path):
    path = tmp_path / "junk.flac"
    path.write_bytes(b"not audio" * 100)
    result = run("listen", "--headless", "--file", str(path))
    assert result.returncode == 2
    assert "junk.flac" in result.stderr and "Traceback" not in result.stderr
