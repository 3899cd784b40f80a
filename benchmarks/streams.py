"""Test streams made on the fly from ../shared/data (never saved in the repo).

- :func:`event_stream`: ESC-50 clips placed at known times into a quiet or a noisy
  background, with the true onset of each clip (first 10 ms frame within 30 dB of the
  clip's loudest frame: ESC-50 clips often start with silence).
- :func:`short_event_stream`: each clip's loudest single sound in household noise at a
  given event-to-background ratio.
- :func:`background_stream`: only background audio (noise, speech or music), for false
  events per hour.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from benchmarks.machine import require_shared_data
from soundwatch.audio.files import load_audio
from soundwatch.train.event_eval import (
    TruthEvent,
    noise_bed,
    place_clips,
    quiet_bed,
    short_excerpts_at,
    stream_length,
)

RATE_HZ = 16000
# The Speech Commands household recordings under the 'noisy' background.
NOISY_BED_FILES = ("doing_the_dishes", "running_tap", "exercise_bike")
# ESC-50 categories that are the ordinary sound of a place (weather, machines, steps,
# typing): false-event streams, and (other folds) generic negatives for learnt sounds.
AMBIENT_CATEGORIES = ("rain", "wind", "sea_waves", "crackling_fire", "vacuum_cleaner",
                      "washing_machine", "engine", "airplane", "train", "helicopter",
                      "clock_tick", "keyboard_typing", "footsteps", "mouse_click",
                      "pouring_water", "toilet_flush", "water_drops", "brushing_teeth")


def esc50_rows(fold: int | None = None) -> list[dict]:
    root = require_shared_data() / "esc50"
    with open(root / "esc50.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r for r in rows if fold is None or int(r["fold"]) == fold]


def esc50_path(row: dict) -> Path:
    return require_shared_data() / "esc50" / "audio" / row["filename"]


def background_audio(kind: str, seconds: float, seed: int = 0,
                     head_fraction: float = 1.0) -> np.ndarray:
    """(n,) float32 background of ``seconds``: 'quiet' (room-like noise at -60 dBFS) or
    'noisy' (the Speech Commands household recordings, looped, at -35 dBFS RMS; only the
    first ``head_fraction`` of each, e.g. the part a model trained on)."""
    n = int(seconds * RATE_HZ)
    if kind == "quiet":
        return quiet_bed(n, seed)
    files = sorted((require_shared_data() / "background" / "audio").glob("*.flac"))
    files = [f for f in files if f.stem in NOISY_BED_FILES]
    heads = [audio[:int(len(audio) * head_fraction)]
             for audio in (load_audio(f, RATE_HZ)[0] for f in files)]
    return noise_bed(np.concatenate(heads), n)


def event_stream(rows: list[dict], background: str, gap_s: float = 3.0,
                 seed: int = 0, head_fraction: float = 1.0
                 ) -> tuple[np.ndarray, list[TruthEvent]]:
    """ESC-50 clips (5 s each) separated by ``gap_s`` in a background (see
    :func:`background_audio`); their true onsets."""
    clips = [(r["category"], r["filename"], load_audio(esc50_path(r), RATE_HZ)[0])
             for r in rows]
    bed = background_audio(background, stream_length(clips, RATE_HZ, gap_s) / RATE_HZ, seed,
                           head_fraction)
    return place_clips(clips, bed, RATE_HZ, gap_s)


def short_event_stream(rows: list[dict], ebr_db: float, gap_s: float = 3.0, seed: int = 0,
                       head_fraction: float = 1.0) -> tuple[np.ndarray, list[TruthEvent]]:
    """Each clip's loudest single sound (at most 1 s; event_eval.short_excerpt) ``ebr_db``
    above household noise, ``gap_s`` apart: the DCASE office check's shape on ESC-50."""
    clips = [(r["category"], r["filename"], load_audio(esc50_path(r), RATE_HZ)[0])
             for r in rows]
    excerpts = short_excerpts_at(clips, RATE_HZ, ebr_db)
    bed = background_audio("noisy", stream_length(excerpts, RATE_HZ, gap_s) / RATE_HZ, seed,
                           head_fraction)
    return place_clips(excerpts, bed, RATE_HZ, gap_s)


def background_stream(kind: str, max_seconds: float, exclude: set[str] = frozenset(),
                      head_fraction: float = 1.0) -> np.ndarray:
    """Concatenated 'background' (noise), 'speech' (LibriSpeech) or 'music' (GTZAN) audio.

    ``exclude``: file names to leave out; ``head_fraction``: use only the first part of
    each file (e.g. the part a model trained on, to keep the rest unseen).
    """
    data = require_shared_data()
    folders = {
        "background": data / "background" / "audio",
        "speech": data / "speech" / "audio",
        "music": data / "music_speech" / "music",
    }
    files = sorted(p for p in folders[kind].iterdir()
                   if p.suffix in (".flac", ".ogg", ".wav") and p.name not in exclude)
    pieces, total = [], 0
    for path in files:
        audio = load_audio(path, RATE_HZ)[0]
        audio = audio[:int(len(audio) * head_fraction)]
        pieces.append(audio)
        total += len(audio)
        if total >= max_seconds * RATE_HZ:
            break
    return np.concatenate(pieces)[: int(max_seconds * RATE_HZ)]
