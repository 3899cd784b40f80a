"""YAMNet in PyTorch, with its weights read from the published TFLite file.

YAMNet (tensorflow/models, research/audioset/yamnet; Apache-2.0) is MobileNetV1 on a
(96 frames x 64 mel bands) log-mel patch: one 3x3 convolution, 13 depthwise-separable
layers, global average pooling to a 1024-d embedding, and a 521-class AudioSet head with
sigmoid scores. In the TFLite file every batch-norm is folded into its convolution (a
weight and a bias per layer) and some weights are int8 with scales; they are
dequantised here, so the network below is plain float32.

The layer table and TensorFlow's "SAME" padding (the extra row or column goes at the end
on stride-2 layers) follow ``yamnet.py`` of the original; the weights are found by walking
the TFLite graph's convolution operators in order, not by tensor names, which the
converter merges.

Reading needs the ``tflite`` package (flatbuffer bindings, in the ``train`` extra); the app
itself never imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from soundwatch.errors import SoundwatchError

# (kind, stride, output channels), from YAMNet's _YAMNET_LAYER_DEFS; every kernel is 3x3.
LAYERS: tuple[tuple[str, int, int], ...] = (
    ("conv", 2, 32),
    ("separable", 1, 64), ("separable", 2, 128), ("separable", 1, 128),
    ("separable", 2, 256), ("separable", 1, 256), ("separable", 2, 512),
    ("separable", 1, 512), ("separable", 1, 512), ("separable", 1, 512),
    ("separable", 1, 512), ("separable", 1, 512), ("separable", 2, 1024),
    ("separable", 1, 1024),
)
EMBEDDING_DIM = 1024
N_AUDIOSET_CLASSES = 521
PATCH_FRAMES = 96
N_MELS = 64


def same_padding(size: int, stride: int, kernel: int = 3) -> tuple[int, int]:
    """TensorFlow "SAME" padding (before, after) of one axis: the odd pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """A 3x3 convolution (with bias: the folded batch-norm) padded as TensorFlow pads."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stride = self.stride[0]
        top, bottom = same_padding(x.shape[2], stride)
        left, right = same_padding(x.shape[3], stride)
        return super().forward(F.pad(x, (left, right, top, bottom)))


class YamnetBody(nn.Module):
    """Log-mel patch -> 1024-d embedding.

    Input: (batch, 1, frames, 64) YAMNet log-mel (``soundwatch.features.YAMNET_SPEC``),
    frames = 96 as trained (other lengths work: the pooling is global).
    Output: (batch, 1024) float32, the mean of the last layer's ReLU activations.
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 1
        for kind, stride, out_channels in LAYERS:
            if kind == "conv":
                layers += [SameConv2d(in_channels, out_channels, 3, stride), nn.ReLU()]
            else:
                layers += [SameConv2d(in_channels, in_channels, 3, stride, groups=in_channels),
                           nn.ReLU(), nn.Conv2d(in_channels, out_channels, 1), nn.ReLU()]
            in_channels = out_channels
        self.layers = nn.Sequential(*layers)

    def forward(self, patch: torch.Tensor) -> torch.Tensor:
        return self.layers(patch).mean(dim=(2, 3))

    def time_cells(self, patch: torch.Tensor) -> torch.Tensor:
        """The last layer's activations averaged over frequency only: (batch, 1024, cells).

        A 96-frame patch gives 3 cells (the body's stride is 32 frames); their mean is
        :meth:`forward`'s embedding.
        """
        return self.layers(patch).mean(dim=3)

    def convolutions(self) -> list[nn.Conv2d]:
        """The convolutions in graph order (27: the first conv, then depthwise/pointwise)."""
        return [m for m in self.layers if isinstance(m, nn.Conv2d)]


class Yamnet(nn.Module):
    """The whole published network: patch -> (AudioSet scores (batch, 521), embedding)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = YamnetBody()
        self.audioset_head = nn.Linear(EMBEDDING_DIM, N_AUDIOSET_CLASSES)

    def forward(self, patch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.body(patch)
        return torch.sigmoid(self.audioset_head(embedding)), embedding


@dataclass
class TfliteWeights:
    """Float32 weights of the TFLite file, in graph order, in TFLite's own layouts.

    ``convolutions[i]`` is (kind, weight, bias): kind "conv" with an OHWI weight, or
    "depthwise" with a 1HWC weight; ``dense`` is the (521, 1024) head weight and
    (521,) bias.
    """

    convolutions: list[tuple[str, np.ndarray, np.ndarray]]
    dense: tuple[np.ndarray, np.ndarray]


def read_tflite_weights(path: str | Path) -> TfliteWeights:
    """Read and dequantise YAMNet's weights from its TFLite file.

    Raises:
        SoundwatchError: the file is missing, not a TFLite model, or not YAMNet's graph
            (the number or shapes of its layers differ).
    """
    try:
        import tflite
    except ImportError as exc:
        raise SoundwatchError("reading YAMNet needs the `tflite` package: "
                              "pip install -e '.[train]'") from exc
    path = Path(path)
    try:
        buffer = path.read_bytes()
    except OSError as exc:
        raise SoundwatchError(f"cannot read the YAMNet file {path}: {exc}") from exc
    try:
        model = tflite.Model.GetRootAsModel(buffer, 0)
        graph = model.Subgraphs(0)
        ops = [graph.Operators(i) for i in range(graph.OperatorsLength())]
    except Exception as exc:  # the flatbuffer bindings raise assorted types on bad bytes
        raise SoundwatchError(f"{path} is not a TFLite model: {exc}") from exc
    names = {value: name for name, value in vars(tflite.BuiltinOperator).items()
             if not name.startswith("_")}

    def op_name(op) -> str:
        code = model.OperatorCodes(op.OpcodeIndex())
        return names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?")

    producers = {int(op.Outputs(0)): op for op in ops if op.OutputsLength()}

    def tensor_value(index: int) -> np.ndarray:
        """The constant tensor ``index``, dequantised (through a DEQUANTIZE op if any)."""
        if index in producers and op_name(producers[index]) == "DEQUANTIZE":
            index = int(producers[index].Inputs(0))
        tensor = graph.Tensors(index)
        data = model.Buffers(tensor.Buffer()).DataAsNumpy()
        if not isinstance(data, np.ndarray):
            raise SoundwatchError(f"{path}: tensor {tensor.Name().decode()} holds no data")
        dtype = {0: np.float32, 9: np.int8, 2: np.int32}.get(tensor.Type())
        if dtype is None:
            raise SoundwatchError(f"{path}: tensor type {tensor.Type()} is not supported")
        shape = [int(s) for s in tensor.ShapeAsNumpy()]
        values = data.view(dtype).reshape(shape).astype(np.float32)
        quant = tensor.Quantization()
        if dtype is np.int8:
            scale = quant.ScaleAsNumpy().astype(np.float32)
            zero = quant.ZeroPointAsNumpy().astype(np.float32)
            if scale.size > 1:  # per-channel: broadcast along the quantised axis
                axis = quant.QuantizedDimension()
                bshape = [1] * values.ndim
                bshape[axis] = scale.size
                scale, zero = scale.reshape(bshape), zero.reshape(bshape)
            values = (values - zero) * scale
        return values

    convolutions = []
    dense = None
    for op in ops:
        kind = op_name(op)
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            convolutions.append(("conv" if kind == "CONV_2D" else "depthwise",
                                 tensor_value(int(op.Inputs(1))),
                                 tensor_value(int(op.Inputs(2)))))
        elif kind == "FULLY_CONNECTED" and op.Inputs(2) >= 0:
            weight = tensor_value(int(op.Inputs(1)))
            if weight.shape == (N_AUDIOSET_CLASSES, EMBEDDING_DIM):
                dense = (weight, tensor_value(int(op.Inputs(2))))
    expected = 1 + 2 * (len(LAYERS) - 1)
    if len(convolutions) != expected or dense is None:
        raise SoundwatchError(
            f"{path} is not YAMNet: found {len(convolutions)} convolutions (expected "
            f"{expected}) and {'a' if dense else 'no'} 521x1024 head")
    return TfliteWeights(convolutions, dense)


def load_yamnet(path: str | Path) -> Yamnet:
    """YAMNet with the TFLite file's weights, in eval mode.

    Raises:
        SoundwatchError: as :func:`read_tflite_weights`, or a layer's shape differs.
    """
    return yamnet_from_weights(read_tflite_weights(path), source=str(path))


def yamnet_from_weights(weights: TfliteWeights, source: str = "weights") -> Yamnet:
    """Build :class:`Yamnet` from weights in TFLite layouts (OHWI conv, 1HWC depthwise)."""
    net = Yamnet()
    with torch.no_grad():
        for i, (conv, (kind, weight, bias)) in enumerate(
                zip(net.body.convolutions(), weights.convolutions, strict=True)):
            if kind == "depthwise":
                torch_weight = weight.transpose(3, 0, 1, 2)  # 1HWC -> C1HW
            else:
                torch_weight = weight.transpose(0, 3, 1, 2)  # OHWI -> OIHW
            if tuple(torch_weight.shape) != tuple(conv.weight.shape):
                raise SoundwatchError(f"{source}: layer {i} has weight shape "
                                      f"{weight.shape}, expected {tuple(conv.weight.shape)}")
            conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(torch_weight)))
            conv.bias.copy_(torch.from_numpy(bias.reshape(-1)))
        net.audioset_head.weight.copy_(torch.from_numpy(weights.dense[0]))
        net.audioset_head.bias.copy_(torch.from_numpy(weights.dense[1]))
    return net.eval()


def read_class_names(path: str | Path) -> list[str]:
    """YAMNet's 521 display names from ``yamnet_class_map.csv`` (index,mid,display_name)."""
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    names = [row["display_name"] for row in rows]
    if len(names) != N_AUDIOSET_CLASSES:
        raise SoundwatchError(f"{path} lists {len(names)} classes, expected "
                              f"{N_AUDIOSET_CLASSES}")
    return names
