"""Test streams made on the fly from ../shared/data (never saved in the repo).

- :func:`event_stream`: ESC-50 clips placed at known times into a quiet or a noisy
  background, with the true onset of each clip (first 10 ms frame within 30 dB of the
  clip's loudest frame: ESC-50 clips often start with silence).
- :func:`background_stream`: only background audio (noise, speech or music), for false
  events per hour.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.machine import require_shared_data
from soundwatch.audio.files import load_audio

RATE_HZ = 16000


@dataclass(frozen=True)
class TruthEvent:
    label: str
    onset_s: float
    end_s: float
    clip: str


def esc50_rows(fold: int | None = None) -> list[dict]:
    root = require_shared_data() / "esc50"
    with open(root / "esc50.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r for r in rows if fold is None or int(r["fold"]) == fold]


def esc50_path(row: dict) -> Path:
    return require_shared_data() / "esc50" / "audio" / row["filename"]


def onset_and_end_s(clip: np.ndarray, rate_hz: int = RATE_HZ, below_peak_db: float = 30.0):
    frame = rate_hz // 100
    n = len(clip) // frame
    rms = np.sqrt(np.mean(clip[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > -below_peak_db)
    return loud[0] * frame / rate_hz, (loud[-1] + 1) * frame / rate_hz


def background_audio(kind: str, seconds: float, seed: int = 0) -> np.ndarray:
    """(n,) float32 background of ``seconds``: 'quiet' (room-like noise at -60 dBFS) or
    'noisy' (the Speech Commands household recordings, looped)."""
    n = int(seconds * RATE_HZ)
    rng = np.random.default_rng(seed)
    if kind == "quiet":
        return (rng.standard_normal(n) * 10 ** (-60 / 20)).astype(np.float32)
    files = sorted((require_shared_data() / "background" / "audio").glob("*.flac"))
    files = [f for f in files if f.stem in ("doing_the_dishes", "running_tap", "exercise_bike")]
    pieces = np.concatenate([load_audio(f, RATE_HZ)[0] for f in files])
    pieces = pieces / (np.sqrt(np.mean(pieces**2)) + 1e-9) * 10 ** (-35 / 20)  # -35 dBFS RMS
    return np.resize(pieces, n).astype(np.float32)


def event_stream(rows: list[dict], background: str, gap_s: float = 3.0,
                 seed: int = 0) -> tuple[np.ndarray, list[TruthEvent]]:
    """ESC-50 clips (5 s each) separated by ``gap_s`` in a background; their true onsets."""
    clips = [load_audio(esc50_path(r), RATE_HZ)[0] for r in rows]
    total_s = gap_s + sum(len(c) / RATE_HZ + gap_s for c in clips)
    signal = background_audio(background, total_s, seed)
    truth, position_s = [], gap_s
    for row, clip in zip(rows, clips, strict=True):
        start = int(position_s * RATE_HZ)
        signal[start : start + len(clip)] += clip
        onset_s, end_s = onset_and_end_s(clip)
        truth.append(TruthEvent(row["category"], position_s + onset_s, position_s + end_s,
                                row["filename"]))
        position_s += len(clip) / RATE_HZ + gap_s
    return np.clip(signal, -1, 1), truth


def background_stream(kind: str, max_seconds: float) -> np.ndarray:
    """Concatenated 'background' (noise), 'speech' (LibriSpeech) or 'music' (GTZAN) audio."""
    data = require_shared_data()
    folders = {
        "background": data / "background" / "audio",
        "speech": data / "speech" / "audio",
        "music": data / "music_speech" / "music",
    }
    files = sorted(p for p in folders[kind].iterdir() if p.suffix in (".flac", ".ogg", ".wav"))
    pieces, total = [], 0
    for path in files:
        audio = load_audio(path, RATE_HZ)[0]
        pieces.append(audio)
        total += len(audio)
        if total >= max_seconds * RATE_HZ:
            break
    return np.concatenate(pieces)[: int(max_seconds * RATE_HZ)]
