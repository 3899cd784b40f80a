"""Peak memory and speed of `classify` and `listen --file --fast` on long recordings.

Synthesises 48 kHz mono 16-bit WAVs (10 minutes and 2 hours by default: 55 MB and 691 MB,
quiet noise with a tone burst every 10 s) into a temporary folder, runs each command on
each file in its own process with the shipped model, and reads the process's peak RSS
from the kernel (wait4's ru_maxrss). Target: <= 300 MB peak for both lengths, i.e.
memory that does not grow with the file. Needs no shared data; needs ~0.8 GB of disk.

    python -m benchmarks.bench_long_files [--minutes 10 120]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from benchmarks.machine import emit

RATE_HZ = 48000
TARGET_PEAK_MB = 300.0


def synthesise(path: Path, minutes: float) -> None:
    """Write the file block by block (this script's own memory stays small too)."""
    rng = np.random.default_rng(0)
    block_s = 10
    t = np.arange(RATE_HZ * block_s) / RATE_HZ
    burst = (0.3 * np.sin(2 * np.pi * 1000 * t) * (t < 1.0)).astype(np.float32)
    with soundfile.SoundFile(str(path), "w", RATE_HZ, 1, subtype="PCM_16") as file:
        for _ in range(int(minutes * 60 / block_s)):
            noise = (0.01 * rng.standard_normal(len(t))).astype(np.float32)
            file.write(noise + burst)


def peak_rss_mb(command: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of one child process run to its end."""
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall_s = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command} failed: {process.stderr.read().decode()[-2000:]}")
    return usage.ru_maxrss / 1024, wall_s


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10.0, 120.0])
    args = parser.parse_args(argv)
    soundwatch = [sys.executable, "-m", "soundwatch", "-q"]
    results = {}
    with tempfile.TemporaryDirectory(prefix="soundwatch-long-") as folder:
        for minutes in args.minutes:
            path = Path(folder) / f"{minutes:g}min.wav"
            synthesise(path, minutes)
            audio_s = minutes * 60
            runs = {
                "classify": [*soundwatch, "classify", "--no-progress", str(path)],
                "listen_fast": [*soundwatch, "listen", "--file", str(path), "--fast",
                                "--no-db", "--status-interval", "0"],
            }
            for name, command in runs.items():
                peak_mb, wall_s = peak_rss_mb(command)
                results[f"{name}_{minutes:g}min"] = {
                    "peak_rss_mb": round(peak_mb, 1), "wall_s": round(wall_s, 1),
                    "x_real_time": round(audio_s / wall_s, 1),
                    "file_mb": round(path.stat().st_size / 2**20, 1),
                }
            path.unlink()
    worst = max(r["peak_rss_mb"] for r in results.values())
    emit("long_files", "peak RSS (MB) of classify and listen --fast on long 48 kHz WAVs", {
        **results, "worst_peak_rss_mb": worst, "target_peak_rss_mb": TARGET_PEAK_MB,
        "meets_target": worst <= TARGET_PEAK_MB,
    })


if __name__ == "__main__":
    main()
