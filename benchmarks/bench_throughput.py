"""Offline throughput of `soundwatch classify`: audio seconds per wall second.

Reads ../shared/data: 200 ESC-50 clips (5 s each, 1000 s of audio), classified by one
`soundwatch classify` process (decode, features, every window scored, events), timed on
the wall clock from launch to exit, so start-up (imports, model load) is included; the
rate without start-up is also given, from a run on one clip.
"""

from __future__ import annotations

import subprocess
import sys
import time

from benchmarks.machine import emit
from benchmarks.streams import esc50_path, esc50_rows

N_CLIPS = 200
CLIP_S = 5.0


def timed_classify(paths: list[str]) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "soundwatch", "-q", "classify", "--no-progress",
                    *paths], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> None:
    rows = esc50_rows()[:: len(esc50_rows()) // N_CLIPS][:N_CLIPS]
    paths = [str(esc50_path(r)) for r in rows]
    timed_classify(paths[:1])  # warm the file cache and numba's cache
    one_s = timed_classify(paths[:1])
    all_s = timed_classify(paths)
    audio_s = len(paths) * CLIP_S
    emit("throughput", "soundwatch classify over ESC-50 clips: x real time", {
        "clips": len(paths),
        "audio_s": audio_s,
        "wall_s": round(all_s, 2),
        "x_real_time": round(audio_s / all_s, 1),
        "startup_s": round(one_s, 2),
        "x_real_time_excluding_startup": round((audio_s - CLIP_S) / max(all_s - one_s, 1e-6), 1),
    })


if __name__ == "__main__":
    main()
