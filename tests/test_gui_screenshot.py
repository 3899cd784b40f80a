"""The whole app under a real X server (Xvfb, Qt's xcb platform): replay a short file,
save a screenshot, and check the picture shows what was played."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import write_scene
from model_factory import make_test_model

from soundwatch.window_flags import WindowFlags

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SCREEN = "1280x800x24"

pytestmark = pytest.mark.xvfb


@pytest.fixture
def x_display():
    """A private Xvfb server; yields its DISPLAY value."""
    if shutil.which("Xvfb") is None:
        reason = "Xvfb is not installed (apt-get install xvfb)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    number = next(n for n in range(91, 200) if not Path(f"/tmp/.X{n}-lock").exists())
    server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", SCREEN, "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket = Path(f"/tmp/.X11-unix/X{number}")
    deadline = time.monotonic() + 10
    while not socket.exists() and server.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not socket.exists():
        server.kill()
        pytest.fail(f"Xvfb :{number} did not start")
    try:
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def read_png(path: Path) -> np.ndarray:
    """(height, width, 3) uint8 RGB pixels of a PNG, read with Qt (no QApplication needed)."""
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    assert not image.isNull(), f"{path} is not a readable image"
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(
        image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def test_screenshot_of_a_replay_under_xvfb(tmp_path, x_display):
    audio, _ = write_scene(tmp_path / "scene.wav",
                           [("silence", 0.5), ("tone_1k", 2.0), ("silence", 0.5),
                            ("noise", 0.8), ("silence", 0.5)])
    model = make_test_model(tmp_path / "test.onnx")
    picture, info_path = tmp_path / "screenshot.png", tmp_path / "screenshot.json"
    env = dict(os.environ, DISPLAY=x_display, QT_QPA_PLATFORM="xcb",
               SOUNDWATCH_CONFIG_DIR=str(tmp_path / "config"),
               SOUNDWATCH_DATA_DIR=str(tmp_path / "data"))
    env.pop("WAYLAND_DISPLAY", None)
    result = subprocess.run(
        [sys.executable, "-m", "soundwatch", "gui", "--file", str(audio), "--model", str(model),
         "--screenshot", str(picture), "--screenshot-info", str(info_path),
         "--quit-after", "60"],  # closes when the replay has ended (~4.3 s of audio)
        env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr

    info = json.loads(info_path.read_text())
    assert info["platform"] == "xcb"  # a real X server, not the offscreen platform
    pixels = read_png(picture)
    assert pixels.shape[1::-1] == tuple(info["size"])
    luma = pixels.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)

    # Not blank: many colours and real contrast.
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 500 and luma.std() > 15

    # The spectrogram shows the 1 kHz tone as a bright horizontal band, 2 s of the 20 s
    # shown, dark at 3 kHz above it (the noise burst, 0.8 s, is bright at both).
    shown_s = WindowFlags.spectrogram_s
    scale = info["device_pixel_ratio"]
    left, top, right, bottom = (int(round(v * scale)) for v in info["spectrogram_image"])
    assert right - left > 300 and bottom - top > 150
    row_1k = int(round(info["spectrogram_row_of_hz"]["1000"] * scale))
    row_3k = int(round(info["spectrogram_row_of_hz"]["3000"] * scale))
    band_1k = luma[row_1k - 2:row_1k + 3, left:right].mean(axis=0)
    band_3k = luma[row_3k - 2:row_3k + 3, left:right].mean(axis=0)
    tone_only = (band_1k > 170) & (band_3k < 90)
    assert 0.75 < tone_only.mean() / (2.0 / shown_s) < 1.3, \
        f"the tone covers {tone_only.mean():.0%} of the width"
    noise = (band_1k > 120) & (band_3k > 120)
    assert 0.5 < noise.mean() / (0.8 / shown_s) < 1.5, \
        f"the noise covers {noise.mean():.0%} of the width"
