"""Capture path through the virtual PulseAudio microphone (no ../shared needed).

1. Blocks delivered vs expected while capturing for CAPTURE_S seconds (expected from the
   wall time, the device rate and the block size), overflows and lost samples.
2. Click-to-frame delay: a click is played into the virtual mic with `paplay`; we time,
   on the wall clock, from just before `paplay` starts to the engine handing over the first
   feature frame whose energy shows the click. This includes paplay's own start-up and
   PulseAudio's buffering, so it is an upper bound on what soundwatch adds.

Needs PulseAudio (`scripts/virtual_mic.sh start`, done here).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import soundfile

from benchmarks.machine import REPO, emit
from soundwatch.audio.capture import MicrophoneSource
from soundwatch.engine import Engine, EngineSink
from soundwatch.features import FeatureSpec

CAPTURE_S = float(os.environ.get("BENCH_CAPTURE_S", 60))
N_CLICKS = 15


class ClickWatcher(EngineSink):
    """Records the wall time of the first loud frame after ``armed`` is set."""

    def __init__(self, threshold_db: float):
        self.threshold_db = threshold_db
        self.armed = threading.Event()
        self.heard_at: float | None = None
        self.heard = threading.Event()

    def on_frames(self, frames, first_sample):
        if self.armed.is_set() and not self.heard.is_set() and frames.max() > self.threshold_db:
            self.heard_at = time.monotonic()
            self.heard.set()


def click_file(sample_rate_hz: int = 16000) -> str:
    click = np.zeros(int(0.2 * sample_rate_hz), dtype=np.float32)
    click[:32] = np.hanning(32) * 0.9
    handle = tempfile.NamedTemporaryFile(suffix=".wav", delete=False)
    soundfile.write(handle.name, click, sample_rate_hz, subtype="PCM_16")
    return handle.name


def main() -> None:
    subprocess.run(["bash", str(REPO / "scripts" / "virtual_mic.sh"), "start"], check=True,
                   capture_output=True)
    spec = FeatureSpec()
    watcher = ClickWatcher(threshold_db=-20.0)
    source = MicrophoneSource("pulse")
    engine = Engine(source, spec, [watcher])
    engine.start()
    if not source.first_callback.wait(15):
        print('{"error": "no audio callback within 15 s"}')
        sys.exit(1)
    blocks_before, started = source.stats.blocks, time.monotonic()
    time.sleep(CAPTURE_S)
    elapsed_s = time.monotonic() - started
    blocks = source.stats.blocks - blocks_before
    expected = elapsed_s * source.sample_rate_hz / source.blocksize

    path = click_file()
    delays_ms = []
    for _ in range(N_CLICKS):
        watcher.heard.clear()
        watcher.armed.set()
        t0 = time.monotonic()
        subprocess.run(["paplay", "-d", "vsink", path], check=True)
        if watcher.heard.wait(3):
            delays_ms.append((watcher.heard_at - t0) * 1000)
        watcher.armed.clear()
        time.sleep(0.3)
    os.unlink(path)
    engine.stop()
    emit("capture", "virtual PulseAudio mic: blocks delivered vs expected, click-to-frame delay", {
        "device": source.device.name,
        "device_rate_hz": source.sample_rate_hz,
        "block_size": source.blocksize,
        "capture_s": round(elapsed_s, 2),
        "blocks_delivered": blocks,
        "blocks_expected": round(expected, 1),
        "delivered_ratio": round(blocks / expected, 4),
        "overflows": source.stats.overflows,
        "samples_lost": engine.stats.samples_lost,
        "clicks_played": N_CLICKS,
        "clicks_heard": len(delays_ms),
        "click_to_frame_ms_p50": round(float(np.percentile(delays_ms, 50)), 1) if delays_ms else None,
        "click_to_frame_ms_p95": round(float(np.percentile(delays_ms, 95)), 1) if delays_ms else None,
    })


if __name__ == "__main__":
    main()
