"""Short-term levels on the stream clock: the background noise floor, an event's level, SNR.

:class:`LevelHistory` keeps the mean power of every 100 ms block of model-rate audio
(the engine feeds it), for the last minute. From it:

- the **noise floor** is the level exceeded 90 % of the time (the 10th percentile of
  the 100 ms levels, acoustics' L90 background level) over the most recent 10 s of
  audio that no event covers: blocks inside events are skipped, so while an event runs
  the floor stays at the background before it (it is frozen, not pulled up); blocks of
  digital silence are skipped too: no room is that quiet, so they are samples a source
  never delivered (damaged or non-finite audio replaced by silence, a muted input), and a
  floor of -120 dBFS would give every sound after them an SNR of 100 dB;
- an **event's level** is the level exceeded 10 % of the time within the event (the
  90th percentile, L10), so that a few loud barks in a 3 s event are not averaged away
  by the quiet between them or by the part of the detection window around the sound;
- the **SNR** is the event's power over the floor's, the floor's power first taken out
  of the event's (the event's level includes the background under it):
  ``10 * log10((P_event - P_floor) / P_floor)``, never below :data:`SNR_MIN_DB`;
- an event's **onset and end** (:meth:`EventLevels.measure`): the detector knows only
  windows, so its event starts where the first window above threshold starts and ends
  where the last one ends, up to a window (0.96 s) before and after the sound (the model
  fires once part of the sound is in its window). Within those first and last windows,
  the event's start moves to the first 100 ms block :data:`ONSET_RISE_DB` over the floor
  (with no floor known yet, at the start of a recording: over the window's quietest block,
  and within :data:`ONSET_BELOW_PEAK_DB` of its loudest, as the benchmarks' true onsets
  are defined, for a sound out of digital silence), its end back to the last such block;
  where no block is, the window's edge stays. A block that straddles the window's edge
  counts (windows are not on the 100 ms grid).

All levels are dBFS (0 dBFS: the RMS of a full-scale square wave, so a full-scale sine
reads -3 dBFS), of the audio less its DC offset (:mod:`soundwatch.audio.dc_blocker`): an
input's offset would otherwise read as background noise. Positions are model-rate samples
on the stream clock (:mod:`soundwatch.engine`). Cost per push: a first-order filter and
one numpy reduction over the new audio (the engine filters its audio twice, here and
before the features: the silence mask needs the raw samples, and the filter costs about
0.16 ms a second of audio in 0.1 s chunks, measured).
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace

import numpy as np

from soundwatch.audio.dc_blocker import DcBlocker
from soundwatch.detect import Event

BLOCK_S = 0.1  # the short-term level's integration time
FLOOR_HISTORY_S = 10.0  # event-free audio the noise floor looks back over
# Blocks kept: the longest event (max_duration_s 20 s) plus the merge gap and detection
# delay, plus the 10 s of background before it, fit with room to spare.
KEEP_S = 60.0
FLOOR_PERCENTILE = 10.0  # L90: the level exceeded 90 % of the time
EVENT_PERCENTILE = 90.0  # L10: the level exceeded 10 % of the time
MIN_FLOOR_BLOCKS = 5  # less than 0.5 s of background: the floor is not known yet
SILENCE_DBFS = -120.0  # the level reported for digital silence
# Audio whose loudest window is quieter than this holds no sound to name (a silent or
# disconnected input): learning refuses it as an example, classify says so.
NO_SOUND_BELOW_DBFS = -60.0
SNR_MIN_DB = -20.0  # an event no louder than its background reads this
# A 100 ms block this far over the noise floor holds the sound: an event's start and end
# are moved to the first and last such block of its first and last window. Chosen on
# ESC-50 fold 1 with benchmarks/onset_choice.py (onset_choice.json): 3 dB took the median
# start error from 0.5 / 0.36 / 0.48 s (quiet room / household noise / short sounds at
# 0 dB) to 0.0 / 0.01 / 0.03 s and the median end error from 0.48 s to 0.1 s; 6 dB (and
# 10 dB) started more events after the sound had begun (in noise 31 % against 26 %; 24 %
# at the windows' edges). None: events keep their windows' edges.
ONSET_RISE_DB: float | None = 3.0
ONSET_BELOW_PEAK_DB = 30.0
# Set, only the run of such blocks that holds the window's loudest is the sound (gaps of up
# to this many quieter blocks joined), so that a clatter of dishes half a second before a
# telephone ring does not become the ring's onset. Measured on ESC-50 fold 1
# (onset_choice.json, loudest_run_fold_1): the same for 1, 2 and 4 blocks, p90 start error
# of short sounds in noise 0.40 -> 0.15 s but one in 12 started late, and the p90 end error
# in household noise 1.86 -> 2.02 s: no clear gain, so off (None: the first and last such
# block of the window).
ONSET_JOIN_GAP_BLOCKS: int | None = None


def power_to_dbfs(power: float) -> float:
    """dBFS of a mean power (mean of squared samples), silence floored at SILENCE_DBFS."""
    return max(SILENCE_DBFS, 10.0 * float(np.log10(max(power, 1e-30))))


def snr_db(level_dbfs: float, floor_dbfs: float) -> float:
    """SNR in dB of an event at ``level_dbfs`` (background included) over ``floor_dbfs``."""
    ratio = 10.0 ** ((level_dbfs - floor_dbfs) / 10.0) - 1.0
    return max(SNR_MIN_DB, 10.0 * float(np.log10(max(ratio, 1e-30))))


class LevelHistory:
    """The mean power of each ``block_s`` block of the stream, for the last ``keep_s``.

    Args:
        sample_rate_hz: the stream clock's rate (the model rate).
        block_s: block length in seconds.
        keep_s: how much history is kept.

    Threads: push and the queries run on one thread (the engine worker).
    """

    def __init__(self, sample_rate_hz: int, block_s: float = BLOCK_S, keep_s: float = KEEP_S):
        self.block_samples = max(1, int(round(block_s * sample_rate_hz)))
        self.capacity = max(1, int(round(keep_s / block_s)))
        self.floor_blocks = max(1, int(round(FLOOR_HISTORY_S / block_s)))
        self._starts = np.zeros(self.capacity, dtype=np.int64)
        self._powers = np.zeros(self.capacity, dtype=np.float64)
        self._written = 0  # blocks written since creation
        self._partial = np.zeros(0, dtype=np.float32)
        self._partial_silent = np.zeros(0, dtype=bool)  # its samples that were exact zeros
        self._partial_start = 0  # stream sample where self._partial begins
        self._dc_blocker = DcBlocker(sample_rate_hz)

    def push(self, audio: np.ndarray, first_sample: int) -> None:
        """Add (n,) float32 audio that starts at stream sample ``first_sample``. Audio that
        does not follow on from the last push (a gap) drops the unfinished block."""
        if self._partial_start + len(self._partial) != first_sample:
            self._partial = np.zeros(0, dtype=np.float32)
            self._partial_silent = np.zeros(0, dtype=bool)
            self._partial_start = int(first_sample)
            self._dc_blocker.reset()
        audio = np.asarray(audio, dtype=np.float32)
        silent = np.concatenate([self._partial_silent, audio == 0.0])
        audio = np.concatenate([self._partial, self._dc_blocker.process(audio)])
        n_blocks = len(audio) // self.block_samples
        if n_blocks:
            whole = audio[:n_blocks * self.block_samples].reshape(n_blocks, self.block_samples)
            powers = np.mean(np.square(whole, dtype=np.float64), axis=1)
            # digital silence stays exactly that (skipped by the floor: no measurement)
            powers[silent[:n_blocks * self.block_samples]
                   .reshape(n_blocks, self.block_samples).all(axis=1)] = 0.0
            starts = self._partial_start + np.arange(n_blocks) * self.block_samples
            slots = (self._written + np.arange(n_blocks)) % self.capacity
            self._starts[slots] = starts
            self._powers[slots] = powers
            self._written += n_blocks
        self._partial = audio[n_blocks * self.block_samples:].copy()
        self._partial_silent = silent[n_blocks * self.block_samples:].copy()
        self._partial_start += n_blocks * self.block_samples

    def _blocks(self) -> tuple[np.ndarray, np.ndarray]:
        """(starts, powers) of the kept blocks, oldest first."""
        n = min(self._written, self.capacity)
        slots = (self._written - n + np.arange(n)) % self.capacity
        return self._starts[slots], self._powers[slots]

    def noise_floor_dbfs(self, before_sample: int,
                         exclude: list[tuple[int, int]] = (),
                         min_blocks: int = MIN_FLOOR_BLOCKS) -> float | None:
        """The background level (L90, dBFS) of the newest ``FLOOR_HISTORY_S`` of blocks
        that end by ``before_sample``, overlap none of the ``exclude`` spans
        ([start, end) samples: events) and are not digital silence; None with less than
        ``min_blocks`` of them."""
        starts, powers = self._blocks()
        ends = starts + self.block_samples
        keep = (ends <= before_sample) & (powers > 0.0)
        for start, end in exclude:
            keep &= (ends <= start) | (starts >= end)
        powers = powers[keep]
        powers = powers[-self.floor_blocks:]
        if len(powers) < min_blocks:
            return None
        return power_to_dbfs(float(np.percentile(powers, FLOOR_PERCENTILE)))

    def mean_level_dbfs(self, start_sample: int, end_sample: int) -> float | None:
        """The equivalent continuous level (Leq, dBFS: the mean power) of the blocks that
        lie wholly within [start_sample, end_sample); None when none is kept."""
        starts, powers = self._blocks()
        inside = (starts >= start_sample) & (starts + self.block_samples <= end_sample)
        if not inside.any():
            return None
        return power_to_dbfs(float(np.mean(powers[inside])))

    def blocks_over(self, start_sample: int, end_sample: int, level_dbfs: float,
                    join_gap_blocks: int | None = None) -> tuple[int, int] | None:
        """(start of the first, end of the last) kept block that lies wholly within
        [start_sample, end_sample) and whose level is at least ``level_dbfs``; None when
        none is. With ``join_gap_blocks``, only the run of such blocks (gaps of at most
        that many quieter blocks joined) that holds the loudest block of the span."""
        starts, powers = self._blocks()
        ends = starts + self.block_samples
        inside = (starts >= start_sample) & (ends <= end_sample)
        loud = inside & (powers >= 10.0 ** (level_dbfs / 10.0)) & (powers > 0.0)
        if not loud.any():
            return None
        if join_gap_blocks is None:
            return int(starts[loud][0]), int(ends[loud][-1])
        at = np.flatnonzero(loud)
        peak = int(np.flatnonzero(inside)[np.argmax(powers[inside])])
        first = last = int(np.searchsorted(at, peak))  # the peak block is loud itself
        while first > 0 and at[first] - at[first - 1] <= join_gap_blocks + 1:
            first -= 1
        while last < len(at) - 1 and at[last + 1] - at[last] <= join_gap_blocks + 1:
            last += 1
        return int(starts[at[first]]), int(ends[at[last]])

    def quietest_dbfs(self, start_sample: int, end_sample: int) -> float:
        """The level (dBFS) of the quietest kept block wholly within [start_sample,
        end_sample), digital silence included (as SILENCE_DBFS, also when none is
        kept)."""
        starts, powers = self._blocks()
        inside = (starts >= start_sample) & (starts + self.block_samples <= end_sample)
        return power_to_dbfs(float(powers[inside].min())) if inside.any() else SILENCE_DBFS

    def loudest_dbfs(self, start_sample: int, end_sample: int) -> float | None:
        """The level (dBFS) of the loudest kept block wholly within [start_sample,
        end_sample); None when none is kept or all are digital silence."""
        starts, powers = self._blocks()
        inside = (starts >= start_sample) & (starts + self.block_samples <= end_sample)
        if not inside.any() or powers[inside].max() <= 0.0:
            return None
        return power_to_dbfs(float(powers[inside].max()))

    def event_level_dbfs(self, start_sample: int, end_sample: int) -> float | None:
        """The level (L10, dBFS) of the blocks within [start_sample, end_sample) (those
        that overlap it when none lies wholly inside); None when none is kept."""
        starts, powers = self._blocks()
        ends = starts + self.block_samples
        inside = (starts >= start_sample) & (ends <= end_sample)
        if not inside.any():
            inside = (ends > start_sample) & (starts < end_sample)
        if not inside.any():
            return None
        return power_to_dbfs(float(np.percentile(powers[inside], EVENT_PERCENTILE)))


class EventLevels:
    """Gives events their level, the noise floor before them and their SNR.

    The one place that decides which audio is background: the floor skips the recent
    finished events it measured and every event the detector has in progress.

    Args:
        history: the stream's :class:`LevelHistory` (fed with the audio the detector's
            scores came from, before the events are measured).
        detector: the :class:`~soundwatch.detect.EventDetector` making the events.
        window_samples: the model's window (model-rate samples): how far into its first
            window, and back from the end of its last, an event's onset and end are
            looked for (None: events keep the windows' edges).
    """

    def __init__(self, history: LevelHistory, detector, window_samples: int | None = None):
        self.history = history
        self.detector = detector
        self.window_samples = window_samples
        self.sample_rate_hz = detector.sample_rate_hz
        self._spans: deque[tuple[int, int]] = deque()  # finished events, oldest first

    def _excluded(self) -> list[tuple[int, int]]:
        spans = list(self._spans)
        busy = self.detector.busy_since()
        if busy is not None:
            spans.append((busy, np.iinfo(np.int64).max))
        return spans

    def measure(self, event: Event) -> Event:
        """``event`` with its start and end moved to the sound within its first and last
        window (see the module docstring), and ``level_dbfs``, ``noise_floor_dbfs`` and
        ``snr_db`` set (None where the audio does not tell, e.g. no background heard
        before it yet). An *event started* notice and its finished event get the same
        start. A finished event's span, as detected, is kept out of later floors."""
        floor = self.history.noise_floor_dbfs(event.start_sample, self._excluded())
        if not event.ongoing:
            self._spans.append((event.start_sample, event.end_sample))
        event = self._sound_span(event, floor)
        level = self.history.event_level_dbfs(event.start_sample, event.end_sample)
        snr = None if floor is None or level is None else snr_db(level, floor)
        return replace(event, level_dbfs=level, noise_floor_dbfs=floor, snr_db=snr)

    def _sound_span(self, event: Event, floor_dbfs: float | None) -> Event:
        """``event`` with its start at the first block ONSET_RISE_DB over the floor in its
        first window, and (finished, not split at max_duration_s) its end at the last
        such block in its last window. A part that continues a split event keeps its
        start (the sound was already going on)."""
        if ONSET_RISE_DB is None or not self.window_samples:
            return event
        start, end = event.start_sample, event.end_sample
        # Windows do not start on the 100 ms grid: a block that reaches past the first
        # window's end (or starts before the last window's start) holds some of the audio
        # that made it fire, and counts.
        reach = self.history.block_samples - 1
        if event.continued_from is None:
            first = self._loud_blocks(start, start + self.window_samples + reach, floor_dbfs)
            if first is not None and first[0] < end:
                start = first[0]
        if not event.ongoing and not event.continues:
            last = self._loud_blocks(max(start, end - self.window_samples - reach), end,
                                     floor_dbfs)
            if last is not None:
                end = last[1]
        return replace(event, start_sample=start, end_sample=end)

    def _loud_blocks(self, start_sample: int, end_sample: int, floor_dbfs: float | None
                     ) -> tuple[int, int] | None:
        """The span of the blocks in [start_sample, end_sample) that hold sound (see
        :meth:`_sound_span`); None when none does. With no floor known, the quietest
        block there stands for it (noise at the start of a recording), but never more
        than ONSET_BELOW_PEAK_DB under the loudest (a sound out of digital silence)."""
        if floor_dbfs is None:
            quietest = self.history.quietest_dbfs(start_sample, end_sample)
            loudest = self.history.loudest_dbfs(start_sample, end_sample)
            if loudest is None:
                return None
            over = max(quietest + ONSET_RISE_DB, loudest - ONSET_BELOW_PEAK_DB)
        else:
            over = floor_dbfs + ONSET_RISE_DB
        return self.history.blocks_over(start_sample, end_sample, over, ONSET_JOIN_GAP_BLOCKS)

    def floor_now_dbfs(self, now_sample: int, min_blocks: int = MIN_FLOOR_BLOCKS
                       ) -> float | None:
        """The noise floor (dBFS) of the background before ``now_sample``; None when
        not known yet (less than ``min_blocks`` blocks of background heard)."""
        horizon = now_sample - int(KEEP_S * self.sample_rate_hz)
        while self._spans and self._spans[0][1] < horizon:
            self._spans.popleft()
        return self.history.noise_floor_dbfs(now_sample, self._excluded(), min_blocks)
