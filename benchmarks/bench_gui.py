"""CPU use and redraw rate of the window while it replays a file in real time.

Reads ../shared: the replayed stream is made of ESC-50 clips in a household background
(benchmarks/streams.py, nothing is saved in the repo); with ``--synthetic`` (or when the
shared folder is missing) it is a synthetic scene of tones and noise instead. The model is
the shipped one (models/soundwatch.onnx or $SOUNDWATCH_MODEL); without one, the tiny test
model from tests/model_factory.py, and the output says so.

The window is the real app (``soundwatch.gui.app.build_window``) on a real X server: an
Xvfb started here when there is no $DISPLAY (Qt's xcb platform; ``--platform offscreen``
to skip X). CPU is this process's user+system time over wall time after a warm-up, in
percent of one core, all threads (capture replay, engine worker, Qt): exactly what the
app costs. The redraw rate counts timer ticks that redrew a view.

    python -m benchmarks.bench_gui [--seconds 40] [--warmup 5] [--platform xcb|offscreen]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from benchmarks.machine import REPO, SHARED_DATA, emit

RATE_HZ = 16000


def replay_audio(seconds: float, synthetic: bool) -> tuple[np.ndarray, str]:
    """(signal, description) of at least ``seconds`` of audio."""
    if not synthetic and SHARED_DATA.exists():
        from benchmarks.streams import esc50_rows, event_stream

        wanted = ["dog", "door_wood_knock", "crying_baby", "siren", "glass_breaking",
                  "clock_alarm", "footsteps", "coughing", "church_bells", "keyboard_typing"]
        rows = [next(r for r in esc50_rows(fold=5) if r["category"] == c) for c in wanted]
        signal, _ = event_stream(rows, "noisy", gap_s=2.0)
        description = f"ESC-50 fold 5, {len(rows)} clips in household noise (../shared)"
    else:
        sys.path.insert(0, str(REPO / "tests"))
        from model_factory import scene

        parts = [("silence", 1.0), ("tone_1k", 2.0), ("silence", 1.0), ("noise", 1.5),
                 ("silence", 1.0), ("tone_3k", 2.0)]
        signal, _ = scene(parts, RATE_HZ)
        description = "synthetic tones and noise bursts"
    repeats = int(np.ceil(seconds * RATE_HZ / len(signal)))
    return np.tile(signal, repeats)[: int(seconds * RATE_HZ)], description


def model_path(folder: Path) -> tuple[Path, str]:
    from soundwatch.errors import SoundwatchError
    from soundwatch.model import default_model_path

    try:
        return default_model_path(), "shipped"
    except SoundwatchError:
        sys.path.insert(0, str(REPO / "tests"))
        from model_factory import make_test_model

        return make_test_model(folder / "test.onnx"), "tests/model_factory.py (no shipped model)"


def start_xvfb() -> subprocess.Popen | None:
    if os.environ.get("DISPLAY"):
        return None
    if shutil.which("Xvfb") is None:
        raise SystemExit("no DISPLAY and no Xvfb: install xvfb or pass --platform offscreen")
    number = next(n for n in range(95, 200) if not Path(f"/tmp/.X{n}-lock").exists())
    server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1280x800x24",
                               "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.environ["DISPLAY"] = f":{number}"
    return server


def cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="measured replay time")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds not measured")
    parser.add_argument("--platform", choices=("xcb", "offscreen"), default="xcb")
    parser.add_argument("--synthetic", action="store_true", help="do not read ../shared")
    parser.add_argument("--fps", type=float, default=30.0, help="the window's redraw rate")
    options = parser.parse_args()

    server = start_xvfb() if options.platform == "xcb" else None
    os.environ["QT_QPA_PLATFORM"] = options.platform
    folder = Path(tempfile.mkdtemp(prefix="soundwatch-gui-bench-"))
    os.environ["SOUNDWATCH_CONFIG_DIR"] = str(folder / "config")
    os.environ["SOUNDWATCH_DATA_DIR"] = str(folder / "data")
    try:
        signal, audio = replay_audio(options.seconds + options.warmup + 5.0, options.synthetic)
        audio_path = folder / "stream.wav"
        soundfile.write(str(audio_path), signal, RATE_HZ, subtype="FLOAT")
        model, model_origin = model_path(folder)
        results = measure(audio_path, model, options.seconds, options.warmup, options.fps)
        results.update(audio=audio, model=model_origin, platform=options.platform)
        emit("gui", "process CPU % of one core (user+sys over wall, all threads) and "
             "redraw rate while the window replays a file in real time", results)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def measure(audio_path: Path, model: Path, seconds: float, warmup_s: float,
            fps: float = 30.0) -> dict:
    from PySide6.QtCore import QTimer

    from soundwatch.cli import build_parser
    from soundwatch.gui.app import build_window

    args = build_parser().parse_args(["gui", "--file", str(audio_path), "--model", str(model),
                                      "--fps", str(fps)])
    app, window = build_window(args)
    marks = {}

    def start_measuring():
        marks["start"] = (time.monotonic(), cpu_s(), window.redraws, window.ticks)

    def stop_measuring():
        marks["end"] = (time.monotonic(), cpu_s(), window.redraws, window.ticks)
        marks["status"] = window.session.status()
        window.close()

    QTimer.singleShot(int(warmup_s * 1000), start_measuring)
    QTimer.singleShot(int((warmup_s + seconds) * 1000), stop_measuring)
    app.exec()
    window.shutdown()
    (t0, c0, r0, k0), (t1, c1, r1, k1) = marks["start"], marks["end"]
    wall = t1 - t0
    status = marks["status"]
    return {
        "measured_s": round(wall, 1),
        "cpu_percent_of_one_core": round(100 * (c1 - c0) / wall, 1),
        "redraw_fps": round((r1 - r0) / wall, 1),
        "timer_ticks_per_s": round((k1 - k0) / wall, 1),
        "redraw_timer_target_fps": fps,
        "events_shown": window.events_table.events.rowCount(),
        "inference_ms_per_window": (round(status.inference_ms, 3)
                                    if status.inference_ms is not None else None),
        "frames_dropped_by_mailbox": window.session.mailbox.frames_dropped_total,
    }


if __name__ == "__main__":
    main()
