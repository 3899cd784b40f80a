"""The place's own recent audio, without the sound being taught, as negatives (numpy only).

While it listens, the engine keeps the last ``RING_SECONDS`` of model-rate audio
(:attr:`soundwatch.engine.Engine.audio`, a :class:`~soundwatch.audio.ring.RingBuffer` on
the stream clock). Learning a sound there can use that audio as negatives (what this
place sounds like when the sound is not playing): the stream-clock ranges that the
examples were taken from are cut out, widened by ``PLACE_MARGIN_S`` on each side (the
sound may ring on past the stretch the user chose), and the stretches in between are
the negatives. Stretches shorter than one model window are dropped (a window padded
with silence is not the place), and less than ``MIN_PLACE_S`` in all is not used:
too few windows to say anything about the place.

The sound may of course also have happened in that audio without being taken as an
example; the learner's leave-one-out check then refuses it, saying why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from soundwatch.audio.ring import RingBuffer

# Audio cut out before and after each example's range, seconds.
PLACE_MARGIN_S = 1.0
# Less place audio than this (after the cuts) is not used, seconds.
MIN_PLACE_S = 5.0


@dataclass(frozen=True)
class PlaceAudio:
    """Recent audio of the place, as learning negatives.

    Attributes:
        segments: (n_i,) float32 model-rate audio, one per stretch between examples.
        ranges: the stream-clock ``[start, end)`` sample range of each segment.
        sample_rate_hz: the audio's rate (the model's).
        held_s: seconds of audio the ring held (before the cuts).
        reason: why no audio is used (empty when ``segments`` has some).
    """

    segments: list[np.ndarray] = field(default_factory=list)
    ranges: list[tuple[int, int]] = field(default_factory=list)
    sample_rate_hz: int = 16000
    held_s: float = 0.0
    reason: str = ""

    @property
    def seconds(self) -> float:
        """Seconds of place audio used (0 when none)."""
        return sum(len(s) for s in self.segments) / self.sample_rate_hz


def free_ranges(first: int, end: int, excluded: Sequence[tuple[int, int]],
                margin_samples: int, min_samples: int) -> list[tuple[int, int]]:
    """The parts of ``[first, end)`` outside every excluded range widened by
    ``margin_samples`` on each side, at least ``min_samples`` long each.

    Args:
        first, end: the stream-clock samples held (end exclusive).
        excluded: ``(start, end)`` stream-clock ranges to leave out, in any order; they
            may overlap each other and reach outside ``[first, end)``.
        margin_samples: samples also left out before and after each excluded range (>= 0).
        min_samples: shorter parts are dropped (>= 1).

    Returns:
        Sorted, disjoint ``(start, end)`` ranges.

    Raises:
        ValueError: a negative margin, ``min_samples`` < 1, or an excluded range whose
            end precedes its start.
    """
    if margin_samples < 0 or min_samples < 1:
        raise ValueError(f"margin_samples must be >= 0 and min_samples >= 1, got "
                         f"{margin_samples} and {min_samples}")
    cuts = []
    for start, stop in excluded:
        if stop < start:
            raise ValueError(f"excluded range ({start}, {stop}) ends before it starts")
        cuts.append((start - margin_samples, stop + margin_samples))
    free = []
    position = first
    for start, stop in sorted(cuts):
        if start > position:
            free.append((position, min(start, end)))
        position = max(position, stop)
        if position >= end:
            break
    if position < end:
        free.append((position, end))
    return [(a, b) for a, b in free if b - a >= min_samples]


def recent_place_audio(ring: RingBuffer, excluded: Sequence[tuple[int, int]],
                       sample_rate_hz: int, window_samples: int,
                       margin_s: float = PLACE_MARGIN_S,
                       min_place_s: float = MIN_PLACE_S) -> PlaceAudio:
    """The audio ``ring`` holds now, without the ``excluded`` ranges (and their margins).

    Args:
        ring: the engine's model-rate ring (read once, under its lock; safe while the
            worker writes).
        excluded: stream-clock ``(start, end)`` ranges of the examples taken from it.
        sample_rate_hz: the ring's rate (the model's).
        window_samples: samples in one model window: shorter stretches are dropped.
        margin_s: seconds also left out around each excluded range.
        min_place_s: when less than this is left, no audio is used (``reason`` says so).

    Returns:
        A :class:`PlaceAudio`.
    """
    first, end = ring.oldest_position, ring.write_position
    audio, first = ring.read_range(first, end)
    end = first + len(audio)
    held_s = len(audio) / sample_rate_hz
    ranges = free_ranges(first, end, excluded, int(round(margin_s * sample_rate_hz)),
                         max(1, int(window_samples)))
    segments = [audio[a - first:b - first] for a, b in ranges]
    place = PlaceAudio(segments, ranges, sample_rate_hz, held_s)
    if place.seconds < min_place_s:
        return PlaceAudio([], [], sample_rate_hz, held_s, reason=(
            f"only {place.seconds:.0f} s of recent audio besides the examples (needs "
            f"{min_place_s:g} s)"))
    return place
