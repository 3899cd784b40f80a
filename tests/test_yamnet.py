"""YAMNet in PyTorch: layouts and padding on synthetic weights; parity with the TFLite file.

The parity tests need ``../shared/data/yamnet`` (or ``$SOUNDWATCH_SHARED_DATA/yamnet``)
and the TFLite interpreter (``ai-edge-litert``); they skip, saying which, without them.
"""

import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from soundwatch.errors import SoundwatchError  # noqa: E402
from soundwatch.features import YAMNET_SPEC, compute_features  # noqa: E402
from soundwatch.train.yamnet import (  # noqa: E402
    LAYERS,
    SameConv2d,
    TfliteWeights,
    read_tflite_weights,
    same_padding,
    yamnet_from_weights,
)

pytestmark = pytest.mark.train

SHARED = Path(os.environ.get("SOUNDWATCH_SHARED_DATA",
                             Path(__file__).resolve().parents[2] / "shared" / "data"))
YAMNET_DIR = SHARED / "yamnet"


def random_weights(seed: int = 0) -> TfliteWeights:
    """A full YAMNet-shaped weight set in TFLite layouts (OHWI conv, 1HWC depthwise)."""
    rng = np.random.default_rng(seed)
    convolutions = []
    in_channels = 1
    for kind, _stride, out_channels in LAYERS:
        # He-scaled weights and small biases keep activations informative through the
        # 27 layers, so a head on the embedding can still learn something.
        if kind == "conv":
            convolutions.append(("conv", rng.normal(0, np.sqrt(2 / (9 * in_channels)),
                                                    (out_channels, 3, 3, in_channels)),
                                 rng.normal(0, 0.01, out_channels)))
        else:
            convolutions.append(("depthwise", rng.normal(0, np.sqrt(2 / 9),
                                                         (1, 3, 3, in_channels)),
                                 rng.normal(0, 0.01, in_channels)))
            convolutions.append(("conv", rng.normal(0, np.sqrt(2 / in_channels),
                                                    (out_channels, 1, 1, in_channels)),
                                 rng.normal(0, 0.01, out_channels)))
        in_channels = out_channels
    cast = [(k, w.astype(np.float32), b.astype(np.float32)) for k, w, b in convolutions]
    dense = (rng.normal(0, 0.03, (521, 1024)).astype(np.float32),
             rng.normal(0, 0.1, 521).astype(np.float32))
    return TfliteWeights(cast, dense)


def tf_same_conv_reference(x, weight_ohwi, bias, stride):
    """Direct NHWC convolution with TensorFlow's SAME padding, in numpy."""
    n, h, w, c = x.shape
    top, bottom = same_padding(h, stride)
    left, right = same_padding(w, stride)
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    out_h, out_w = -(-h // stride), -(-w // stride)
    out = np.zeros((n, out_h, out_w, weight_ohwi.shape[0]))
    for i in range(out_h):
        for j in range(out_w):
            patch = padded[:, i * stride:i * stride + 3, j * stride:j * stride + 3, :]
            out[:, i, j, :] = np.einsum("nhwc,ohwc->no", patch, weight_ohwi) + bias
    return out


@pytest.mark.parametrize("size,stride,expected", [(96, 2, (0, 1)), (64, 2, (0, 1)),
                                                  (7, 2, (1, 1)), (96, 1, (1, 1))])
def test_same_padding_puts_the_odd_pixel_after(size, stride, expected):
    assert same_padding(size, stride) == expected


def test_first_layer_matches_a_direct_tf_style_convolution():
    weights = random_weights()
    net = yamnet_from_weights(weights)
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (2, 10, 8, 1)).astype(np.float32)  # NHWC: time x mel
    kind, weight, bias = weights.convolutions[0]
    expected = np.maximum(tf_same_conv_reference(x, weight, bias, stride=2), 0)
    first = net.body.layers[:2]  # conv + ReLU
    with torch.no_grad():
        ours = first(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)


def test_depthwise_layout_keeps_channels_apart():
    weights = random_weights()
    net = yamnet_from_weights(weights)
    conv = net.body.convolutions()[1]  # layer 2 depthwise, 32 channels
    _, weight, _ = weights.convolutions[1]
    np.testing.assert_array_equal(conv.weight.detach().numpy()[5, 0],
                                  weight[0, :, :, 5])
    assert isinstance(conv, SameConv2d) and conv.groups == 32


def test_network_shapes_and_head():
    net = yamnet_from_weights(random_weights())
    patch = torch.randn(3, 1, 96, 64)
    with torch.no_grad():
        scores, embedding = net(patch)
    assert scores.shape == (3, 521) and embedding.shape == (3, 1024)
    assert torch.all((scores >= 0) & (scores <= 1))
    assert torch.all(embedding >= 0)  # the mean of ReLU outputs
    with torch.no_grad():
        np.testing.assert_allclose(
            scores.numpy(), torch.sigmoid(net.audioset_head(embedding)).numpy(), rtol=1e-6)


def test_wrong_shapes_are_refused():
    weights = random_weights()
    kind, weight, bias = weights.convolutions[3]
    weights.convolutions[3] = (kind, weight[:, :, :, :7], bias)
    with pytest.raises(SoundwatchError, match="layer 3 has weight shape"):
        yamnet_from_weights(weights)


def test_a_file_that_is_not_tflite_is_refused(tmp_path):
    pytest.importorskip("tflite")
    bogus = tmp_path / "yamnet.tflite"
    bogus.write_bytes(b"\x00" * 64)
    with pytest.raises(SoundwatchError):
        read_tflite_weights(bogus)
    with pytest.raises(SoundwatchError, match="cannot read"):
        read_tflite_weights(tmp_path / "missing.tflite")


# ---- parity with the published file ----------------------------------------------------

@pytest.fixture(scope="module")
def interpreter():
    if not (YAMNET_DIR / "yamnet.tflite").is_file():
        pytest.skip(f"YAMNet parity needs {YAMNET_DIR}/yamnet.tflite (the shared data "
                    "folder beside the clone; a user's clone has none)")
    litert = pytest.importorskip("ai_edge_litert.interpreter",
                                 reason="the TFLite interpreter (ai-edge-litert) is missing")
    itp = litert.Interpreter(model_path=str(YAMNET_DIR / "yamnet.tflite"))
    itp.allocate_tensors()
    return itp


def real_like_audio(n_clips: int = 6) -> list[np.ndarray]:
    """Speech-like and event-like test signals: harmonic chirps, clicks and noise bursts."""
    rng = np.random.default_rng(7)
    t = np.arange(15600) / 16000
    clips = []
    for k in range(n_clips):
        f0 = 120 + 60 * k
        voice = sum(np.sin(2 * np.pi * f0 * h * t * (1 + 0.1 * t)) / h for h in range(1, 8))
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * (2 + k) * t)
        burst = np.zeros_like(t)
        burst[4000 * (k % 3):4000 * (k % 3) + 2000] = rng.normal(0, 0.5, 2000)
        clips.append((0.1 * voice * envelope + burst).astype(np.float32))
    return clips


def run_tflite(itp, clip):
    inp = itp.get_input_details()[0]
    outputs = {o["name"]: o["index"] for o in itp.get_output_details()}
    itp.set_tensor(inp["index"], clip[None])
    itp.invoke()
    return itp.get_tensor(outputs["Identity"])[0], itp.get_tensor(outputs["Identity_1"])


def test_front_end_matches_the_tflite_log_mel(interpreter):
    """Our float log-mel against the file's (its DFT and mel matrices are int8).

    Measured on ESC-50 audio: median |d ln| 0.005; the largest differences are in near-
    silent bins, where the int8 DFT's rounding noise dominates, so the bound is on the
    mel magnitudes (0.4 % of the patch's peak there).
    """
    for clip in real_like_audio():
        _, reference = run_tflite(interpreter, clip)
        ours = compute_features(clip, YAMNET_SPEC)
        assert ours.shape == reference.shape == (96, 64)
        assert np.median(np.abs(ours - reference)) < 0.02
        magnitude_gap = np.abs(np.exp(ours) - np.exp(reference)).max()
        assert magnitude_gap < 0.01 * np.exp(reference).max()


def test_network_matches_the_tflite_scores(interpreter):
    """The same log-mel patch through both: the gap is TFLite's int8 activations.

    Its hybrid kernels quantise activations to 8 bits on the fly; float layers match to
    1e-6 (checked layer by layer when this port was written), int8 ones to about 3e-2.
    """
    from soundwatch.train.yamnet import load_yamnet

    net = load_yamnet(YAMNET_DIR / "yamnet.tflite")
    gaps = []
    for clip in real_like_audio():
        reference, patch = run_tflite(interpreter, clip)
        with torch.no_grad():
            ours, _ = net(torch.from_numpy(patch)[None, None])
        gaps.append(np.abs(ours.numpy()[0] - reference).max())
        assert int(np.argmax(ours.numpy())) == int(np.argmax(reference))
    assert max(gaps) < 0.05
