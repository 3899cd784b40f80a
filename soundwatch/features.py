"""Log-mel and MFCC features: one implementation for live streaming and for training.

The live path (:class:`FeatureStream`) and the batch path (:func:`compute_features`) run
the very same per-frame arithmetic (:meth:`FeatureExtractor.frames_to_features`), so a
model trained on batch features sees the same numbers at inference time.

Framing follows librosa with ``center=False``: frame ``i`` covers samples
``[i * hop_length, i * hop_length + n_fft)``. A signal of ``n`` samples therefore yields
``1 + (n - n_fft) // hop_length`` frames (0 when ``n < n_fft``).

Log features are ``10 * log10(max(power, log_floor))`` (librosa's ``power_to_db`` with
``ref=1.0`` and ``top_db=None``: ``top_db`` depends on the whole signal, so it cannot be
streamed). MFCCs are the orthonormal DCT-II of those log-mel values, as in
``librosa.feature.mfcc``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

import numpy as np

from soundwatch.errors import SoundwatchError


@dataclass(frozen=True)
class FeatureSpec:
    """Everything that defines a feature frame. Stored in the model file as JSON."""

    sample_rate_hz: int = 16000
    n_fft: int = 512
    hop_length: int = 160
    window: str = "hann"
    n_mels: int = 64
    fmin_hz: float = 50.0
    fmax_hz: float = 8000.0
    log_floor: float = 1e-10
    n_mfcc: int | None = None  # None: log-mel features; an int: that many MFCCs

    def __post_init__(self) -> None:
        problems = []
        if self.sample_rate_hz <= 0:
            problems.append(f"sample_rate_hz must be > 0, got {self.sample_rate_hz}")
        if self.n_fft <= 0 or self.hop_length <= 0:
            problems.append("n_fft and hop_length must be > 0")
        if self.hop_length > self.n_fft:
            problems.append(f"hop_length ({self.hop_length}) must not exceed n_fft ({self.n_fft})")
        if not 0 <= self.fmin_hz < self.fmax_hz <= self.sample_rate_hz / 2:
            problems.append(
                f"need 0 <= fmin_hz < fmax_hz <= sample_rate_hz/2, got fmin_hz={self.fmin_hz}, "
                f"fmax_hz={self.fmax_hz}, sample_rate_hz={self.sample_rate_hz}"
            )
        if self.n_mels <= 0:
            problems.append(f"n_mels must be > 0, got {self.n_mels}")
        if self.n_mfcc is not None and not 0 < self.n_mfcc <= self.n_mels:
            problems.append(f"n_mfcc must be in 1..n_mels ({self.n_mels}), got {self.n_mfcc}")
        if self.log_floor <= 0:
            problems.append(f"log_floor must be > 0, got {self.log_floor}")
        if problems:
            raise SoundwatchError("invalid feature spec: " + "; ".join(problems))

    @property
    def n_features(self) -> int:
        """Values per frame: n_mfcc when MFCCs are on, else n_mels."""
        return self.n_mfcc if self.n_mfcc is not None else self.n_mels

    @property
    def hop_s(self) -> float:
        return self.hop_length / self.sample_rate_hz

    def n_frames_for(self, n_samples: int) -> int:
        """Number of frames a signal of ``n_samples`` samples yields."""
        if n_samples < self.n_fft:
            return 0
        return 1 + (n_samples - self.n_fft) // self.hop_length

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SoundwatchError(f"feature spec is not valid JSON: {exc}") from exc
        if not isinstance(values, dict):
            raise SoundwatchError("feature spec must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SoundwatchError(
                f"feature spec has unknown keys {unknown}; known keys are {sorted(known)}"
            )
        return cls(**values)


class FeatureExtractor:
    """Window, mel basis and DCT for one :class:`FeatureSpec`, built once.

    librosa is imported here only, at construction: it is slow to import and its first
    call compiles with numba, so it stays out of the per-hop path.
    """

    def __init__(self, spec: FeatureSpec):
        import librosa
        import scipy.fft

        self.spec = spec
        window = librosa.filters.get_window(spec.window, spec.n_fft, fftbins=True)
        self.window = np.asarray(window, dtype=np.float32)  # (n_fft,)
        mel_basis = librosa.filters.mel(
            sr=spec.sample_rate_hz,
            n_fft=spec.n_fft,
            n_mels=spec.n_mels,
            fmin=spec.fmin_hz,
            fmax=spec.fmax_hz,
        )
        # Stored transposed, (n_fft // 2 + 1, n_mels), so frames @ basis needs no transpose.
        self.mel_basis_t = np.ascontiguousarray(mel_basis.T, dtype=np.float32)
        self.dct_t: np.ndarray | None = None
        if spec.n_mfcc is not None:
            dct = scipy.fft.dct(np.eye(spec.n_mels), type=2, norm="ortho", axis=0)
            self.dct_t = np.ascontiguousarray(dct[: spec.n_mfcc].T, dtype=np.float32)

    def power_frames(self, frames: np.ndarray) -> np.ndarray:
        """Power spectra of raw frames: (n, n_fft) float32 -> (n, n_fft // 2 + 1) float32."""
        spectrum = np.fft.rfft(frames * self.window, axis=1)
        return (spectrum.real**2 + spectrum.imag**2).astype(np.float32)

    def mel_power(self, frames: np.ndarray) -> np.ndarray:
        """Mel power of raw frames: (n, n_fft) -> (n, n_mels) float32."""
        # Row by row: a matrix product over a batch may sum in another order than over one
        # row, and streaming must give bit-identical frames whatever the chunking.
        power = self.power_frames(frames)
        out = np.empty((power.shape[0], self.spec.n_mels), dtype=np.float32)
        for i in range(power.shape[0]):
            np.dot(power[i], self.mel_basis_t, out=out[i])
        return out

    def frames_to_features(self, frames: np.ndarray) -> np.ndarray:
        """Features of raw frames: (n, n_fft) float32 -> (n, n_features) float32."""
        log_mel = 10.0 * np.log10(np.maximum(self.mel_power(frames), self.spec.log_floor))
        log_mel = log_mel.astype(np.float32, copy=False)
        if self.dct_t is None:
            return log_mel
        out = np.empty((log_mel.shape[0], self.spec.n_features), dtype=np.float32)
        for i in range(log_mel.shape[0]):
            np.dot(log_mel[i], self.dct_t, out=out[i])
        return out


def frame_signal(signal: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Overlapping frames of a mono signal, as a read-only view: (n_samples,) -> (n, n_fft)."""
    n_frames = spec.n_frames_for(len(signal))
    if n_frames == 0:
        return np.zeros((0, spec.n_fft), dtype=np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(signal, spec.n_fft)
    return windows[:: spec.hop_length][:n_frames]


def compute_features(
    signal: np.ndarray, spec: FeatureSpec, extractor: FeatureExtractor | None = None
) -> np.ndarray:
    """Features of a whole mono clip at ``spec.sample_rate_hz``.

    Args:
        signal: (n_samples,) audio, any float dtype (converted to float32).
        spec: the feature spec.
        extractor: a prebuilt extractor for ``spec``, to skip rebuilding the mel basis.

    Returns:
        (n_frames, spec.n_features) float32; n_frames = spec.n_frames_for(n_samples).
    """
    signal = _as_mono_float32(signal)
    extractor = extractor or FeatureExtractor(spec)
    return extractor.frames_to_features(frame_signal(signal, spec))


class FeatureStream:
    """Streaming features: push audio in chunks of any size, get the new frames out.

    Output equals :func:`compute_features` on the concatenated input, frame for frame.
    Keeps only the last ``n_fft - hop_length`` samples (plus a partial hop) between calls.
    """

    def __init__(self, spec: FeatureSpec, extractor: FeatureExtractor | None = None):
        self.spec = spec
        self.extractor = extractor or FeatureExtractor(spec)
        self._pending = np.zeros(0, dtype=np.float32)
        self.frames_emitted = 0

    def reset(self) -> None:
        """Forget buffered audio (e.g. after a gap in the input)."""
        self._pending = np.zeros(0, dtype=np.float32)
        self.frames_emitted = 0

    def push(self, chunk: np.ndarray) -> np.ndarray:
        """Add (n,) samples; return (k, n_features) float32 for the k frames now complete."""
        chunk = _as_mono_float32(chunk)
        buffered = np.concatenate([self._pending, chunk]) if len(self._pending) else chunk
        n_frames = self.spec.n_frames_for(len(buffered))
        if n_frames == 0:
            self._pending = buffered.copy() if buffered is chunk else buffered
            return np.zeros((0, self.spec.n_features), dtype=np.float32)
        features = self.extractor.frames_to_features(frame_signal(buffered, self.spec))
        self._pending = buffered[n_frames * self.spec.hop_length :].copy()
        self.frames_emitted += n_frames
        return features


def _as_mono_float32(signal: np.ndarray) -> np.ndarray:
    signal = np.asarray(signal)
    if signal.ndim != 1:
        raise SoundwatchError(
            f"expected mono audio of shape (n_samples,), got shape {signal.shape}; "
            "downmix first (e.g. signal.mean(axis=1))"
        )
    return signal.astype(np.float32, copy=False)
