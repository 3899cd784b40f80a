"""The screenshot of teaching from a stretch of the spectrogram (assets/teach_stretch.png).

The whole app runs in this process under $DISPLAY, or under an Xvfb started here when
there is none. A room with a steady hum and three door chimes (at 4, 7 and 10 s) is
replayed in real time, as a microphone would hear it; the first two chimes are added to
"Teach a sound" from the spectrogram (the script's clicks), then the third is being
chosen: the spectrogram is paused with the region over it. The PNG is the window with
the dialog drawn over its lower right corner (as if moved there to keep the
spectrogram in sight). No shared
data is needed.

Run: .venv/bin/python -m benchmarks.shot_teach_stretch [--out assets/teach_stretch.png]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.bench_gui import start_xvfb
from benchmarks.bench_teach import RATE_HZ, door_chime, wait_until

CHIMES_AT_S = (4.0, 7.0, 10.0)


def write_room(path: Path) -> None:
    import soundfile

    rng = np.random.default_rng(3)
    seconds = 40.0
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    signal = (0.004 * rng.standard_normal(len(t)) + 0.05 * np.sin(2 * np.pi * 120.0 * t)
              + 0.03 * np.sin(2 * np.pi * 240.0 * t)).astype(np.float32)
    for at_s in CHIMES_AT_S:
        chime = door_chime(rng)
        start = int(at_s * RATE_HZ)
        signal[start:start + len(chime)] += chime
    soundfile.write(str(path), signal, RATE_HZ)


def choose(window, at_s: float) -> None:
    """Pause the spectrogram and put the region over the sound at ``at_s``."""
    window.on_frame_tick()
    window.stretch.start()
    x0 = window.spectrogram.x_of_sample(int((at_s - 0.2) * RATE_HZ))
    x1 = window.spectrogram.x_of_sample(int((at_s + 1.4) * RATE_HZ))
    window.stretch.set_region(x0, x1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="assets/teach_stretch.png")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="soundwatch-shot-stretch-"))
    os.environ["SOUNDWATCH_CONFIG_DIR"] = str(work / "config")
    os.environ["SOUNDWATCH_DATA_DIR"] = str(work / "data")
    os.environ.pop("SOUNDWATCH_MODEL", None)
    write_room(work / "room.wav")
    server = start_xvfb()
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    try:
        shoot(work / "room.wav", Path(args.out))
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def shoot(room: Path, out: Path) -> None:
    from PySide6.QtGui import QColor, QPainter, QPen

    from soundwatch.cli import build_parser
    from soundwatch.gui.app import build_window
    from soundwatch.gui.session import SourceChoice

    app, window = build_window(build_parser().parse_args(["gui"]), start=False)
    window.resize(1280, 960)
    window.start_listening(SourceChoice(file=str(room), paced=True))
    engine = window.session.engine
    if not wait_until(app, lambda: engine.position >= 11.8 * RATE_HZ, 60):
        sys.exit("the replay did not reach 11.8 s")
    for at_s in CHIMES_AT_S[:2]:
        choose(window, at_s)
        print(window.stretch.add(), file=sys.stderr)
    dialog = window.teach_dialog
    dialog.name_edit.setText("doorbell")
    choose(window, CHIMES_AT_S[2])
    dialog.resize(600, 10)  # its smallest height: the spectrogram stays in sight
    wait_until(app, lambda: False, 0.5)
    shot = window.grab().toImage()
    inset = dialog.grab().toImage()
    painter = QPainter(shot)
    x = shot.width() - inset.width() - 16
    y = shot.height() - inset.height() - 36
    painter.drawImage(x, y, inset)
    painter.setPen(QPen(QColor("#4e9cff"), 2))
    painter.drawRect(x - 1, y - 1, inset.width() + 1, inset.height() + 1)
    painter.end()
    out.parent.mkdir(parents=True, exist_ok=True)
    shot.save(str(out), "PNG")
    print(f"saved {out} ({out.stat().st_size // 1024} kB)", file=sys.stderr)
    window.stretch.cancel()
    window.close()
    window.shutdown()


if __name__ == "__main__":
    main()
