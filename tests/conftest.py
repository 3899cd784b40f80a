"""Shared fixtures: synthetic audio and the virtual PulseAudio microphone.

The microphone tests go through the real PortAudio path: a PulseAudio daemon with a null
sink ``vsink`` and a source ``vmic`` remapped from its monitor (scripts/virtual_mic.sh).
Tests play audio into ``vsink`` with ``paplay`` and capture from PortAudio's ``pulse``
device. In CI (CI=true) a missing PulseAudio is a failure; elsewhere those tests skip
with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

REPO = Path(__file__).resolve().parent.parent
VIRTUAL_MIC_SCRIPT = REPO / "scripts" / "virtual_mic.sh"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def tone(freq_hz: float, duration_s: float, sample_rate_hz: int = 16000,
         amplitude: float = 0.5) -> np.ndarray:
    """(n,) float32 sine."""
    t = np.arange(int(duration_s * sample_rate_hz)) / sample_rate_hz
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def sweep(f0_hz: float, f1_hz: float, duration_s: float, sample_rate_hz: int = 16000,
          amplitude: float = 0.5) -> np.ndarray:
    """(n,) float32 linear chirp from f0_hz to f1_hz."""
    t = np.arange(int(duration_s * sample_rate_hz)) / sample_rate_hz
    phase = 2 * np.pi * (f0_hz * t + (f1_hz - f0_hz) * t**2 / (2 * duration_s))
    return (amplitude * np.sin(phase)).astype(np.float32)


def silence(duration_s: float, sample_rate_hz: int = 16000) -> np.ndarray:
    return np.zeros(int(duration_s * sample_rate_hz), dtype=np.float32)


def wait_until(condition, timeout_s: float, poll_s: float = 0.05) -> bool:
    """Poll ``condition()`` until it is true or ``timeout_s`` passes; return its last value."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll_s)
    return True


def write_wav(path: Path, signal: np.ndarray, sample_rate_hz: int = 16000) -> Path:
    soundfile.write(str(path), signal, sample_rate_hz, subtype="FLOAT")
    return path


class VirtualMic:
    """Handle on the running virtual microphone."""

    device = "pulse"  # PortAudio's ALSA device that talks to PulseAudio's default source

    def play(self, signal: np.ndarray, sample_rate_hz: int = 16000) -> None:
        """Play (n,) float32 into the virtual mic; blocks until paplay has sent it all."""
        with tempfile.NamedTemporaryFile(suffix=".wav", delete=False) as handle:
            path = Path(handle.name)
        try:
            soundfile.write(str(path), signal, sample_rate_hz, subtype="PCM_16")
            subprocess.run(["paplay", "-d", "vsink", str(path)], check=True, timeout=120)
        finally:
            path.unlink(missing_ok=True)

    def play_in_background(self, signal: np.ndarray, sample_rate_hz: int = 16000,
                           delay_s: float = 0.0) -> threading.Thread:
        def target():
            if delay_s:
                threading.Event().wait(delay_s)
            self.play(signal, sample_rate_hz)

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        return thread

    def remove(self) -> None:
        """Make the microphone vanish: unload the null sink (its monitor and vmic go too)."""
        modules = subprocess.run(["pactl", "list", "short", "modules"], check=True,
                                 capture_output=True, text=True).stdout
        for line in modules.splitlines():
            fields = line.split("\t")
            if len(fields) > 1 and fields[1] in ("module-remap-source", "module-null-sink"):
                subprocess.run(["pactl", "unload-module", fields[0]], check=False)

    def restore(self) -> None:
        start_virtual_mic()

    def stop_server(self) -> None:
        """Stop the PulseAudio daemon: PortAudio then lists no input device at all, as at
        boot before the sound server runs. :meth:`restore` starts it again."""
        subprocess.run(["bash", str(VIRTUAL_MIC_SCRIPT), "stop"], check=True, timeout=60,
                       capture_output=True)


def start_virtual_mic() -> None:
    subprocess.run(["bash", str(VIRTUAL_MIC_SCRIPT), "start"], check=True, timeout=60,
                   capture_output=True)


@pytest.fixture(scope="session")
def pulse_mic() -> VirtualMic:
    """The virtual PulseAudio microphone, started if needed."""
    reason = None
    if shutil.which("pulseaudio") is None or shutil.which("paplay") is None:
        reason = "PulseAudio is not installed (apt-get install pulseaudio pulseaudio-utils)"
    else:
        try:
            start_virtual_mic()
        except (subprocess.SubprocessError, OSError) as exc:
            reason = f"could not start the virtual microphone: {exc}"
    if reason is not None:
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return VirtualMic()


@pytest.fixture(autouse=True)
def own_user_folders(tmp_path_factory, monkeypatch):
    """Every test gets empty config and data folders of its own (a test that needs them
    uses :func:`place_dirs`): no test may read the user's config or write into the user's
    database, clips, sounds or unusual-sound profile, and a test model swapped against
    the real profile left it set aside once per run."""
    folder = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("SOUNDWATCH_CONFIG_DIR", str(folder / "config"))
    monkeypatch.setenv("SOUNDWATCH_DATA_DIR", str(folder / "data"))


@pytest.fixture
def place_dirs(tmp_path, monkeypatch):
    """``tmp_path`` as the user's config (``config/``) and data (``data/``) folders."""
    monkeypatch.setenv("SOUNDWATCH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SOUNDWATCH_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def write_config(place: Path, text: str) -> Path:
    """Write the user config file of a :func:`place_dirs` folder."""
    path = place / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def harness(qtbot, tmp_path, monkeypatch):
    """A :class:`gui_helpers.GuiHarness` over ``tmp_path``; its windows close after the
    test (GUI test modules may define their own)."""
    from gui_helpers import GuiHarness

    h = GuiHarness(qtbot, tmp_path, monkeypatch)
    yield h
    h.close_all()

