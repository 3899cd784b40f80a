"""Feature frames -> scored windows -> events: the one path the live monitor and offline
analysis share.

:class:`WindowScorer` cuts one window every hop out of a stream of feature frames and
scores the windows with the classifier; the live :class:`~soundwatch.monitor.Monitor`
feeds it the engine's frames as they come. :func:`detect_stream` runs a whole recording
through the same code (streaming features, the same windows, the same
:class:`~soundwatch.detect.EventDetector` calls), so `classify`, the false-alarm
measurement, the detector sweep and evaluation report the events the monitor would.

Stream clock: model-rate samples from the start of the stream. A window that ends at
``end_sample`` covers ``[end_sample - classifier.window_samples, end_sample)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from soundwatch.audio.dc_blocker import DcBlocker
from soundwatch.audio.levels import SILENCE_DBFS, EventLevels, LevelHistory
from soundwatch.audio.snr_gate import SnrGate
from soundwatch.detect import DetectorSettings, Event, EventDetector, NearMissLog, NearMissSpan
from soundwatch.features import FeatureExtractor, FeatureStream

# Most windows per classifier call: onnxruntime's arena grows with the largest batch's
# activations (~2 MB a window for the 1.85 MB model), while a window costs about the same
# CPU in any batch; 8 keeps `classify` under 300 MB (benchmarks/bench_long_files.py).
BATCH_WINDOWS = 8
# Audio is fed to the features in blocks of about this length: few calls, bounded memory.
BLOCK_SECONDS = 5.0
# A recording's *active* windows are those within this many dB of its loudest window
# (window level: Leq of its 10 ms blocks). Their mean score summarises what the recording
# holds without the silence around the sound diluting it: on ESC-50 validation fold 2,
# labelling each clip by it was right for 86.5 % of the clips, against 84.0 % for the mean
# over all windows (benchmarks/clip_summary_choice.json, where 10 dB was chosen).
ACTIVE_RANGE_DB = 10.0
# Window levels are summed into bins this wide (dB), so that the active mean needs no
# per-window memory: the range is kept to within one bin.
LEVEL_BIN_DB = 0.25
_LEVEL_BINS = int(-SILENCE_DBFS / LEVEL_BIN_DB) + 1


class WindowScorer:
    """Scores one window of ``classifier.window_frames`` frames every ``hop_frames`` frames.

    Args:
        classifier: a :class:`~soundwatch.model.Classifier`.
        hop_frames: feature frames between the ends of consecutive windows.
        batch_windows: most windows per classifier call.
    """

    def __init__(self, classifier, hop_frames: int, batch_windows: int = BATCH_WINDOWS):
        self.classifier = classifier
        self.window_frames = classifier.window_frames
        self.hop_frames = int(hop_frames)
        self.hop_length = classifier.spec.hop_length
        self.frame_length = classifier.spec.frame_length
        self.batch_windows = int(batch_windows)
        self.reset()

    def reset(self) -> None:
        """Forget buffered frames (after a gap: the next frames start a new segment)."""
        self._frames = np.zeros((0, self.classifier.spec.n_features), dtype=np.float32)
        self._first_sample = 0  # stream sample where self._frames[0] starts
        self._next_end = self.window_frames  # index in self._frames where the next window ends

    def push(self, frames: np.ndarray, first_sample: int
             ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Add consecutive feature frames; score every window now complete.

        Args:
            frames: (n, n_features) float32; frame 0 starts at stream sample ``first_sample``
                and follows on from the frames pushed before (since the last reset).
            first_sample: stream-clock sample where ``frames[0]`` starts.

        Returns:
            (scores, embedding, end_samples): (k, n_labels) float32 scores, (k, dim)
            float32 embedding or None, and (k,) int64 stream samples where each window
            ends; k may be 0.
        """
        if len(self._frames) == 0:
            self._first_sample = int(first_sample)
        self._frames = np.concatenate([self._frames, frames]) if len(self._frames) else frames
        ends = np.arange(self._next_end, len(self._frames) + 1, self.hop_frames)
        n_labels = len(self.classifier.labels)
        if len(ends) == 0:
            return (np.zeros((0, n_labels), np.float32), None, np.zeros(0, np.int64))
        scores, embeddings = [], []
        for i in range(0, len(ends), self.batch_windows):
            windows = np.stack([self._frames[end - self.window_frames:end]
                                for end in ends[i:i + self.batch_windows]])
            batch_scores, batch_embedding = self.classifier.score(windows)
            scores.append(batch_scores)
            if batch_embedding is not None:
                embeddings.append(batch_embedding)
        end_samples = (self._first_sample + (ends - 1) * self.hop_length + self.frame_length
                       ).astype(np.int64)
        # Keep only the frames the next window needs.
        next_end = int(ends[-1]) + self.hop_frames
        drop = min(max(0, next_end - self.window_frames), len(self._frames))
        self._frames = self._frames[drop:]
        self._first_sample += drop * self.hop_length
        self._next_end = next_end - drop
        return (np.concatenate(scores), np.concatenate(embeddings) if embeddings else None,
                end_samples)


@dataclass
class StreamScores:
    """The scored windows of a stream.

    Attributes:
        scores: (n_windows, n_labels) float32 raw scores, in time order (empty when the
            windows were not kept).
        end_samples: (n_windows,) int64 stream samples where each window ends (likewise).
        n_samples: model-rate samples in the stream (padding included).
        padding_samples: of those, the silence a stream shorter than a window was padded
            with (``pad_to_window``); :attr:`n_samples_heard` is the stream's own.
        window_samples: samples one window covers.
        sample_rate_hz: the stream clock's rate (the model's).
        n_windows: windows scored (kept or not).
        score_sum: (n_labels,) float64 sum of every window's scores.
        score_max: (n_labels,) float32 highest score of any window.
        embedding: (n_windows, dim) float32 embedding of every window, with
            ``keep_embedding`` and a model that exports one; else None.
        levels_dbfs: (n_windows,) float64 level of each window's audio (Leq of its whole
            10 ms blocks, dBFS; padding is not audio), with ``keep_windows``.
        level_bin_sums: (bins, n_labels) float64 sums of the scores of the windows whose
            level falls in each LEVEL_BIN_DB bin from SILENCE_DBFS up, and
            ``level_bin_counts`` (bins,) their number: for :attr:`active_mean`.
    """

    scores: np.ndarray
    end_samples: np.ndarray
    n_samples: int
    window_samples: int
    sample_rate_hz: int
    n_windows: int
    score_sum: np.ndarray
    score_max: np.ndarray
    embedding: np.ndarray | None = None
    levels_dbfs: np.ndarray | None = None
    level_bin_sums: np.ndarray | None = None
    level_bin_counts: np.ndarray | None = None
    padding_samples: int = 0

    @property
    def n_samples_heard(self) -> int:
        """Samples of the stream itself (the padding left out)."""
        return self.n_samples - self.padding_samples

    @property
    def mean(self) -> np.ndarray:
        """(n_labels,) mean score over all windows (zeros when there are none)."""
        return (self.score_sum / max(self.n_windows, 1)).astype(np.float32)

    @property
    def active_mean(self) -> np.ndarray:
        """(n_labels,) mean score over the active windows: those within ACTIVE_RANGE_DB
        (to one LEVEL_BIN_DB bin) of the loudest window; :attr:`mean` when no levels were
        measured."""
        if self.level_bin_counts is None or not self.level_bin_counts.any():
            return self.mean
        loudest = int(np.flatnonzero(self.level_bin_counts)[-1])
        first = max(0, loudest - int(round(ACTIVE_RANGE_DB / LEVEL_BIN_DB)))
        count = int(self.level_bin_counts[first:].sum())
        return (self.level_bin_sums[first:].sum(axis=0) / count).astype(np.float32)

    @property
    def loudest_dbfs(self) -> float | None:
        """The loudest window's level in dBFS (:attr:`levels_dbfs`; to one LEVEL_BIN_DB
        bin below when the windows were not kept); None when no levels were measured."""
        if self.levels_dbfs is not None and len(self.levels_dbfs):
            return float(self.levels_dbfs.max())
        if self.level_bin_counts is None or not self.level_bin_counts.any():
            return None
        return SILENCE_DBFS + LEVEL_BIN_DB * int(np.flatnonzero(self.level_bin_counts)[-1])

    @property
    def start_samples(self) -> np.ndarray:
        """(n_windows,) int64 stream samples where each window starts."""
        return self.end_samples - self.window_samples


def score_stream(audio: np.ndarray | Iterable[np.ndarray], classifier,
                 hop_frames: int | None = None, extractor: FeatureExtractor | None = None,
                 pad_to_window: bool = False, keep_windows: bool = True,
                 on_scores: Callable[[np.ndarray, np.ndarray], None] | None = None,
                 keep_embedding: bool = False) -> StreamScores:
    """Score a decoded stream's windows exactly as the live monitor does.

    Args:
        audio: mono float32 at the model rate (``classifier.sample_rate_hz``): one
            (n_samples,) array, or an iterable of such blocks of any sizes (e.g. a
            streaming decoder), so that memory does not grow with the stream's length.
        classifier: a :class:`~soundwatch.model.Classifier`.
        hop_frames: feature frames between windows (None: the model's hop; see
            ``classifier.hop_frames_for(hop_s)``).
        extractor: a prebuilt :class:`FeatureExtractor` for ``classifier.spec``.
        pad_to_window: a stream shorter than one window is padded with silence to one
            window (so that it still gets a score) instead of giving no windows.
        keep_windows: keep every window's scores (memory grows with the stream, ~200 B
            a window); False keeps only the per-label sum and maximum.
        on_scores: called with each batch's (k, n_labels) scores and (k,) window ends as
            they are computed, in time order.
        keep_embedding: also keep every window's embedding (``StreamScores.embedding``;
            ~4 kB a window for a 1024-d embedding).

    Returns:
        :class:`StreamScores`.
    """
    hop_frames = classifier.hop_frames if hop_frames is None else int(hop_frames)
    features = FeatureStream(classifier.spec, extractor)
    dc_blocker = DcBlocker(classifier.sample_rate_hz)  # as the engine hears it
    scorer = WindowScorer(classifier, hop_frames)
    block = int(BLOCK_SECONDS * classifier.sample_rate_hz)
    audio = _in_blocks(audio, block)
    n_labels = len(classifier.labels)
    scores, ends, embeddings, window_levels = [], [], [], []
    n_samples = n_windows = 0
    score_sum = np.zeros(n_labels, np.float64)
    score_max = np.zeros(n_labels, np.float32)
    # window levels from 10 ms blocks, kept for one window plus two feeding blocks (a
    # window is scored at most one block after its audio was pushed)
    levels = LevelHistory(classifier.sample_rate_hz, block_s=0.01,
                          keep_s=classifier.window_samples / classifier.sample_rate_hz
                          + 2 * BLOCK_SECONDS)
    bin_sums = np.zeros((_LEVEL_BINS, n_labels), np.float64)
    bin_counts = np.zeros(_LEVEL_BINS, np.int64)

    def feed(chunk: np.ndarray, is_padding: bool = False) -> None:
        nonlocal n_samples, n_windows
        first_sample = features.frames_emitted * classifier.spec.hop_length
        frames = features.push(dc_blocker.process(chunk))
        if not is_padding:
            levels.push(chunk, n_samples)
        n_samples += len(chunk)
        if len(frames) == 0:
            return
        window_scores, window_embedding, window_ends = scorer.push(frames, first_sample)
        if len(window_ends) == 0:
            return
        n_windows += len(window_ends)
        score_sum[:] += window_scores.sum(axis=0, dtype=np.float64)
        np.maximum(score_max, window_scores.max(axis=0), out=score_max)
        window_dbfs = np.array([
            levels.mean_level_dbfs(int(end) - classifier.window_samples, int(end))
            for end in window_ends], dtype=np.float64)
        window_dbfs[np.isnan(window_dbfs)] = SILENCE_DBFS  # no whole block: padding
        bins = np.clip(((window_dbfs - SILENCE_DBFS) / LEVEL_BIN_DB).astype(np.int64), 0,
                       _LEVEL_BINS - 1)
        np.add.at(bin_sums, bins, window_scores.astype(np.float64))
        np.add.at(bin_counts, bins, 1)
        if keep_windows:
            scores.append(window_scores)
            ends.append(window_ends)
            window_levels.append(window_dbfs)
        if keep_embedding and window_embedding is not None:
            embeddings.append(window_embedding)
        if on_scores is not None:
            on_scores(window_scores, window_ends)

    pending: list[np.ndarray] = []
    n_pending = 0
    for chunk in audio:
        pending.append(chunk)
        n_pending += len(chunk)
        if n_pending >= block:
            feed(np.concatenate(pending) if len(pending) > 1 else pending[0])
            pending, n_pending = [], 0
    if pending:
        feed(np.concatenate(pending))
    padding = 0
    if pad_to_window and n_samples < classifier.window_samples:
        padding = classifier.window_samples - n_samples
        feed(np.zeros(padding, dtype=np.float32), True)
    return StreamScores(
        scores=np.concatenate(scores) if scores else np.zeros((0, n_labels), np.float32),
        end_samples=np.concatenate(ends) if ends else np.zeros(0, np.int64),
        n_samples=n_samples, window_samples=classifier.window_samples,
        sample_rate_hz=classifier.sample_rate_hz, n_windows=n_windows,
        score_sum=score_sum, score_max=score_max,
        embedding=np.concatenate(embeddings) if embeddings else None,
        levels_dbfs=(np.concatenate(window_levels) if window_levels
                     else np.zeros(0, np.float64)) if keep_windows else None,
        level_bin_sums=bin_sums, level_bin_counts=bin_counts, padding_samples=padding,
    )


def _in_blocks(audio: np.ndarray | Iterable[np.ndarray], block: int) -> Iterable[np.ndarray]:
    """One (n,) array cut into ``block``-sample pieces; an iterable of blocks as it is."""
    if isinstance(audio, np.ndarray):
        signal = audio
        return (signal[i:i + block] for i in range(0, len(signal), block))
    return audio


def new_detector(classifier, settings: DetectorSettings | None = None) -> EventDetector:
    """The :class:`EventDetector` the monitor builds for ``classifier`` and ``settings``."""
    return EventDetector(classifier.labels, settings, classifier.sample_rate_hz,
                         window_samples=classifier.window_samples,
                         background_labels=classifier.metadata.background_labels)


def detect_events(classifier, scored: StreamScores, settings: DetectorSettings | None = None,
                  with_started: bool = False) -> list[Event]:
    """Run the event detector over scored windows, as the monitor does window by window.

    Cheap next to scoring: sweep many settings over one :class:`StreamScores`.

    Args:
        classifier: gives the labels, rate, window and background labels.
        scored: from :func:`score_stream`.
        settings: detection settings (None: the defaults, warm-up included).
        with_started: also return the ``ongoing=True`` "event started" notices.

    Returns:
        Finished events (and, with ``with_started``, start notices), in the order the
        monitor delivers them; the stream's end closes events still in progress. Without
        the audio, their levels, noise floor and SNR are None (see :func:`detect_stream`).
    """
    detector = new_detector(classifier, settings)
    notices: list[Event] = []
    for row, end_sample in zip(scored.scores, scored.end_samples, strict=True):
        notices += detector.update(row, int(end_sample))
    notices += detector.flush(scored.n_samples)
    return notices if with_started else [event for event in notices if not event.ongoing]


def detect_stream(audio: np.ndarray | Iterable[np.ndarray], classifier,
                  settings: DetectorSettings | None = None,
                  extractor: FeatureExtractor | None = None,
                  pad_to_window: bool = False,
                  keep_windows: bool = True,
                  on_near_miss: Callable[[NearMissSpan], None] | None = None,
                  with_started: bool = False,
                  ) -> tuple[StreamScores, list[Event]]:
    """Score a decoded stream and detect its events, the way the live monitor would.

    Args:
        audio: mono float32 at the model rate: one (n_samples,) array or an iterable of
            blocks (see :func:`score_stream`); blocks are consumed as they come, so a
            streaming decoder's memory stays flat.
        classifier: a :class:`~soundwatch.model.Classifier`.
        settings: :class:`DetectorSettings` (None: the defaults); ``settings.hop_s`` sets
            the hop (None: the model's). Pass ``warmup_s=0`` for recordings that have no
            device start-up click.
        extractor: a prebuilt :class:`FeatureExtractor` for ``classifier.spec``.
        pad_to_window: pad a stream shorter than one window with silence to one window.
        keep_windows: keep every window's scores in the result (False: only their
            per-label sum and maximum; memory then does not grow with the stream).
        on_near_miss: called with each debounced near miss (a label that came close,
            and the rule that kept it from an event; see
            :class:`~soundwatch.detect.NearMissLog`), in time order per label.
        with_started: also return the ``ongoing=True`` "event started" notices.

    Returns:
        (scored, events): the :class:`StreamScores` (the model's scores, before the SNR
        gate), and the finished :class:`~soundwatch.detect.Event` list (``ongoing``
        False) in delivery order, times on the stream clock (``event.start_s``/``end_s``
        from the stream's start), each with its level, noise floor and SNR as the monitor
        measures them. The detector sees the scores through the SNR gate of
        ``settings.min_snr_db`` (:mod:`soundwatch.audio.snr_gate`), as live.

    Raises:
        SoundwatchError: invalid settings, or settings naming labels the model lacks.
    """
    settings = (settings or DetectorSettings()).validate()
    detector = new_detector(classifier, settings)  # refuses bad settings before scoring
    history = LevelHistory(classifier.sample_rate_hz)
    levels = EventLevels(history, detector, classifier.window_samples)
    gate = SnrGate(classifier.labels, settings.min_snrs(classifier.labels), levels,
                   classifier.window_samples)
    near_misses = NearMissLog(detector) if on_near_miss is not None else None
    notices: list[Event] = []

    def measured(blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        position = 0
        for block in blocks:
            history.push(block, position)  # before the windows over it are scored
            position += len(block)
            yield block

    def detect(scores: np.ndarray, end_samples: np.ndarray) -> None:
        for row, end_sample in zip(scores, end_samples, strict=True):
            gated = gate.apply(row, int(end_sample))
            found = detector.update(gated, int(end_sample), gate.last_held_back)
            notices.extend(levels.measure(e) for e in found if with_started or not e.ongoing)
            if near_misses is not None:
                for span in near_misses.update():
                    on_near_miss(span)

    block = int(BLOCK_SECONDS * classifier.sample_rate_hz)
    scored = score_stream(measured(_in_blocks(audio, block)), classifier,
                          classifier.hop_frames_for(settings.hop_s), extractor, pad_to_window,
                          keep_windows, on_scores=detect)
    notices.extend(levels.measure(e) for e in detector.flush(scored.n_samples)
                   if with_started or not e.ongoing)
    if near_misses is not None:
        for span in near_misses.flush():
            on_near_miss(span)
    return scored, notices
