"""The README's headline screenshot: a replay of office recordings the model never trained
on (DCASE 2016 isolated recordings, reads ../shared/data), in a quiet room.

Writes a FLAC of one recording per sound (knock, cough, keyboard, telephone, laughter,
door slam, speech, keys), 2 s apart in -60 dBFS noise, at -20 dBFS RMS each; then

    python -m benchmarks.demo_stream --out runs/demo.flac
    soundwatch gui --file runs/demo.flac --no-alerts --db runs/demo.sqlite \\
        --screenshot assets/screenshot.png --quit-after 60
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile

from benchmarks.machine import require_shared_data
from benchmarks.streams import RATE_HZ
from soundwatch.audio.files import load_audio
from soundwatch.train.event_eval import quiet_bed

SOUNDS = ("knock", "cough", "keyboard", "phone", "laughter", "doorslam", "speech",
          "keysDrop")
GAP_S = 2.0
LEVEL_DBFS = -20.0


def demo_stream(recording: int = 0) -> np.ndarray:
    """(n,) float32: the ``recording``-th isolated recording (name order) of each sound."""
    isolated = require_shared_data() / "dcase2016_office" / "isolated"
    clips = []
    for sound in SOUNDS:
        path = sorted(isolated.glob(f"{sound}*.flac"))[recording]
        clip = load_audio(path, RATE_HZ)[0]
        rms = float(np.sqrt(np.mean(clip.astype(np.float64) ** 2))) + 1e-12
        clips.append(clip * np.float32(10 ** (LEVEL_DBFS / 20) / rms))
    gap = int(GAP_S * RATE_HZ)
    stream = quiet_bed(gap + sum(len(c) + gap for c in clips))
    position = gap
    for clip in clips:
        stream[position:position + len(clip)] += clip
        position += len(clip) + gap
    return np.clip(stream, -1.0, 1.0)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/demo.flac"))
    parser.add_argument("--recording", type=int, default=0,
                        help="which isolated recording of each sound (name order)")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    stream = demo_stream(args.recording)
    soundfile.write(str(args.out), stream, RATE_HZ)
    print(f"{args.out}: {len(stream) / RATE_HZ:.1f} s")


if __name__ == "__main__":
    main()
