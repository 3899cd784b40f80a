"""A tiny but real soundwatch ONNX model for tests, built with onnx.helper (no torch).

The graph averages the log-mel window over time and applies one linear layer and a
sigmoid, so each label responds to energy in chosen frequency bands:

- a *band* label (e.g. ``"tone_1k": (900, 1100)``) scores the contrast, in dB, between
  the mean level of its mel bins and the mean level of all other bins: a tone in the band
  scores ~1, broadband noise and silence ~0;
- a *broadband* label (band ``None``, e.g. ``"noise"``) scores the mean level of the bins
  outside every band label's band: noise scores ~1, tones and silence ~0.

Because the window is mean-pooled, a sound that starts at ``t0`` lifts a band label's
score above 0.5 once it fills about a third of the window, which gives tests an analytic
expectation for onset times. The model also exports the pooled window as its
``embedding`` output (optional).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from soundwatch.features import FeatureSpec
from soundwatch.model_format import (
    EMBEDDING_NAME,
    INPUT_NAME,
    SCORES_NAME,
    ModelMetadata,
)

DEFAULT_BANDS: dict[str, tuple[float, float] | None] = {
    "tone_1k": (900.0, 1100.0),
    "tone_3k": (2800.0, 3200.0),
    "noise": None,
}
BAND_CONTRAST_DB = 20.0  # in-band minus out-of-band level where a band label scores 0.5
BAND_SLOPE_PER_DB = 0.3
BROADBAND_LEVEL_DB = -45.0  # mean out-of-band level where a broadband label scores 0.5
BROADBAND_SLOPE_PER_DB = 0.3


def mel_bins_in_band(spec: FeatureSpec, low_hz: float, high_hz: float) -> np.ndarray:
    """Indices of the mel bins whose centre frequency lies in [low_hz, high_hz]."""
    import librosa

    centres_hz = librosa.mel_frequencies(n_mels=spec.n_mels + 2, fmin=spec.fmin_hz,
                                         fmax=spec.fmax_hz)[1:-1]
    bins = np.flatnonzero((centres_hz >= low_hz) & (centres_hz <= high_hz))
    if len(bins) == 0:  # a narrow band between two centres: take the nearest bin
        bins = np.array([int(np.argmin(np.abs(centres_hz - (low_hz + high_hz) / 2)))])
    return bins


def label_weights(
    spec: FeatureSpec, bands: dict[str, tuple[float, float] | None]
) -> tuple[np.ndarray, np.ndarray]:
    """Linear layer of the test model: weights (n_mels, n_labels) and bias (n_labels,)."""
    n_mels = spec.n_mels
    band_bins = {label: mel_bins_in_band(spec, *band) for label, band in bands.items() if band}
    in_any_band = np.zeros(n_mels, dtype=bool)
    for bins in band_bins.values():
        in_any_band[bins] = True
    weights = np.zeros((n_mels, len(bands)), dtype=np.float32)
    bias = np.zeros(len(bands), dtype=np.float32)
    for column, label in enumerate(bands):
        if label in band_bins:
            inside = np.zeros(n_mels, dtype=bool)
            inside[band_bins[label]] = True
            weights[inside, column] = 1.0 / inside.sum()
            weights[~inside, column] = -1.0 / (~inside).sum()
            weights[:, column] *= BAND_SLOPE_PER_DB
            bias[column] = -BAND_CONTRAST_DB * BAND_SLOPE_PER_DB
        else:
            outside = ~in_any_band
            weights[outside, column] = BROADBAND_SLOPE_PER_DB / outside.sum()
            bias[column] = -BROADBAND_LEVEL_DB * BROADBAND_SLOPE_PER_DB
    return weights, bias


def make_test_model(
    path: str | Path,
    labels: list[str] | tuple[str, ...] | None = None,
    spec: FeatureSpec | None = None,
    window_frames: int = 48,
    hop_frames: int = 10,
    bands: dict[str, tuple[float, float] | None] | None = None,
    with_embedding: bool = True,
    metadata_props: dict[str, str] | None = None,
    input_window_frames: int | None = None,
    background_labels: tuple[str, ...] = (),
) -> Path:
    """Write a test model to ``path`` and return the path.

    Args:
        path: the .onnx file to write.
        labels: label names; each must be a key of ``bands`` (default: DEFAULT_BANDS keys).
        spec: feature spec stored in the metadata (log-mel only; default FeatureSpec()).
        window_frames: frames per model input (48 frames = 0.5 s at the default spec).
        hop_frames: default hop between windows stored in the metadata.
        bands: label -> (low_hz, high_hz) or None for a broadband label.
        with_embedding: also export the ``embedding`` output, (batch, n_mels).
        metadata_props: replaces the metadata entirely when given (``{}``: none at all),
            for tests of broken models.
        input_window_frames: the graph's real window length when it must disagree with
            the metadata (tests of inconsistent models); default ``window_frames``.
        background_labels: stored in the metadata.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    spec = spec or FeatureSpec()
    if spec.n_mfcc is not None:
        raise ValueError("the test model reads log-mel features; use a spec with n_mfcc=None")
    bands = dict(DEFAULT_BANDS if bands is None else bands)
    labels = tuple(labels or bands)
    bands = {label: bands[label] for label in labels}
    weights, bias = label_weights(spec, bands)
    graph_frames = input_window_frames or window_frames

    features = helper.make_tensor_value_info(
        INPUT_NAME, TensorProto.FLOAT, ["batch", 1, graph_frames, spec.n_features]
    )
    scores = helper.make_tensor_value_info(SCORES_NAME, TensorProto.FLOAT, ["batch", len(labels)])
    outputs = [scores]
    nodes = [
        # (batch, 1, frames, n_mels) -> (batch, n_mels): mean over the channel and time axes.
        helper.make_node("ReduceMean", [INPUT_NAME, "axes"], ["pooled"], keepdims=0),
        helper.make_node("MatMul", ["pooled", "weights"], ["logits_nobias"]),
        helper.make_node("Add", ["logits_nobias", "bias"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], [SCORES_NAME]),
    ]
    if with_embedding:
        nodes.append(helper.make_node("Identity", ["pooled"], [EMBEDDING_NAME]))
        outputs.append(
            helper.make_tensor_value_info(EMBEDDING_NAME, TensorProto.FLOAT,
                                          ["batch", spec.n_features])
        )
    initializers = [
        numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "axes"),
        numpy_helper.from_array(weights, "weights"),
        numpy_helper.from_array(bias, "bias"),
    ]
    graph = helper.make_graph(nodes, "soundwatch_test_model", [features], outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)],
                              producer_name="soundwatch-tests")
    model.ir_version = 8  # readable by onnxruntime >= 1.14
    if metadata_props is None:
        metadata_props = ModelMetadata(
            labels=labels,
            feature_spec=spec,
            window_frames=window_frames,
            hop_frames=hop_frames,
            background_labels=background_labels,
            model_version="test",
            training_data="none: weights are set by hand in tests/model_factory.py",
        ).to_props()
    helper.set_model_props(model, metadata_props)
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def tone(frequency_hz: float, duration_s: float, sample_rate_hz: int = 16000,
         amplitude: float = 0.3) -> np.ndarray:
    """A sine tone, (n,) float32, with 5 ms fades so it has no clicks."""
    n = int(round(duration_s * sample_rate_hz))
    t = np.arange(n) / sample_rate_hz
    signal = amplitude * np.sin(2 * np.pi * frequency_hz * t)
    fade = min(n // 2, int(0.005 * sample_rate_hz))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        signal[:fade] *= ramp
        signal[-fade:] *= ramp[::-1]
    return signal.astype(np.float32)


def noise_burst(duration_s: float, sample_rate_hz: int = 16000, amplitude: float = 0.2,
                seed: int = 0) -> np.ndarray:
    """White noise, (n,) float32."""
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * sample_rate_hz))
    return (amplitude * rng.standard_normal(n)).clip(-1, 1).astype(np.float32)


def silence(duration_s: float, sample_rate_hz: int = 16000, noise_floor: float = 1e-4,
            seed: int = 1) -> np.ndarray:
    """Near-silence (a faint noise floor, as a real room has), (n,) float32."""
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * sample_rate_hz))
    return (noise_floor * rng.standard_normal(n)).astype(np.float32)


def scene(parts: list[tuple[str, float]], sample_rate_hz: int = 16000) -> tuple[np.ndarray,
                                                                               list[tuple]]:
    """Concatenate ("silence" | "tone_1k" | "tone_3k" | "noise", duration_s) parts.

    Returns:
        (signal (n,) float32, truth): truth lists (label, start_s, end_s) of every
        non-silent part.
    """
    pieces = []
    truth = []
    position_s = 0.0
    for index, (kind, duration_s) in enumerate(parts):
        if kind == "silence":
            piece = silence(duration_s, sample_rate_hz, seed=index)
        elif kind == "noise":
            piece = noise_burst(duration_s, sample_rate_hz, seed=index)
        elif kind.startswith("tone_") and kind.endswith("k"):
            piece = tone(1000.0 * float(kind[5:-1]), duration_s, sample_rate_hz)
            piece = piece + silence(duration_s, sample_rate_hz, seed=index)
        else:
            raise ValueError(f"unknown scene part {kind!r}")
        if kind != "silence":
            truth.append((kind, position_s, position_s + duration_s))
        pieces.append(piece)
        position_s += duration_s
    return np.concatenate(pieces).astype(np.float32), truth


def write_scene(path: Path, parts: list[tuple[str, float]],
                sample_rate_hz: int = 16000) -> tuple[Path, list[tuple]]:
    """:func:`scene` written to a float WAV file; returns (path, truth)."""
    import soundfile

    signal, truth = scene(parts, sample_rate_hz)
    soundfile.write(str(path), signal, sample_rate_hz, subtype="FLOAT")
    return path, truth


def make_model_with_class_defaults(path: str | Path, classes_text: str | None) -> Path:
    """The default test model whose metadata carries ``classes_text`` as its own per-class
    detector settings (soundwatch/class_defaults.py; None: no such entry)."""
    from soundwatch.class_defaults import METADATA_KEY

    extra = {} if classes_text is None else {METADATA_KEY: classes_text}
    props = ModelMetadata(labels=tuple(DEFAULT_BANDS), feature_spec=FeatureSpec(),
                          window_frames=48, hop_frames=10, model_version="test",
                          training_data="none: weights are set by hand in "
                          "tests/model_factory.py", extra=extra).to_props()
    return make_test_model(path, metadata_props=props)
