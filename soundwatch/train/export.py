"""Export a trained network to one self-describing ONNX file, and check it.

The file holds the graph (normalisation inside, sigmoid scores and the embedding out) and
:class:`~soundwatch.model_format.ModelMetadata` in ``metadata_props``. After writing, the
file is read back with onnxruntime and its scores must match torch's within ``tolerance``
on real windows; its metadata must parse. A file that fails either check is deleted.
"""

from __future__ import annotations

import logging
import subprocess
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from soundwatch.errors import SoundwatchError
from soundwatch.model_format import EMBEDDING_NAME, INPUT_NAME, SCORES_NAME, ModelMetadata
from soundwatch.train.net import ScoringNet, SoundNet

log = logging.getLogger(__name__)

OPSET = 17
PARITY_TOLERANCE = 1e-4
FP16_MIN_ELEMENTS = 1024  # smaller tensors (biases, indices) stay float32 in the file


def git_commit(cwd: Path | None = None) -> str:
    """The current commit (with ``+dirty`` when the tree has changes), or "" outside git."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=cwd, capture_output=True, text=True, timeout=10).stdout
        return commit + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def export_onnx(net: nn.Module, metadata: ModelMetadata, path: str | Path,
                check_windows: np.ndarray | None = None,
                tolerance: float = PARITY_TOLERANCE, fp16_weights: bool = False) -> dict:
    """Write ``net`` with ``metadata`` to ``path`` and check parity with torch.

    Args:
        net: the trained network (put in eval mode here): a :class:`SoundNet` (logits out,
            wrapped in :class:`ScoringNet`), or any module that already returns
            (scores in [0, 1], embedding), such as the pretrained network.
        metadata: what the app reads; labels must match the network's outputs.
        path: the .onnx file to write.
        check_windows: (k, window_frames, n_features) dB windows for the parity check;
            None uses random windows in a typical dB range.
        tolerance: largest allowed |onnxruntime - torch| on scores and embeddings.
        fp16_weights: store large weight tensors as float16 (half the file; onnxruntime
            casts them back to float32 once, at load, so the arithmetic stays float32).
            The network's own weights are rounded to float16 first, in place, so torch and
            the file compute the same function and the parity check keeps its tolerance.

    Returns:
        {"max_abs_diff_scores", "max_abs_diff_embedding", "bytes"}.

    Raises:
        SoundwatchError: labels disagree with the network, or the parity check fails.
    """
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n_features = metadata.feature_spec.n_features
    net.eval()
    scoring = (ScoringNet(net) if isinstance(net, SoundNet) else net).eval()
    if fp16_weights:
        round_weights_to_fp16(scoring)
    example = torch.zeros(1, 1, metadata.window_frames, n_features)
    with torch.no_grad():
        n_outputs = scoring(example)[0].shape[1]
    if len(metadata.labels) != n_outputs:
        raise SoundwatchError(f"metadata has {len(metadata.labels)} labels but the network "
                              f"has {n_outputs} outputs")
    temporary = path.with_suffix(".tmp.onnx")
    with warnings.catch_warnings():
        # The window's shape is part of the model's contract, so the tracer's note that
        # YAMNet's padding sizes become constants is expected, not a problem.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            scoring, (example,), str(temporary), input_names=[INPUT_NAME],
            output_names=[SCORES_NAME, EMBEDDING_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, SCORES_NAME: {0: "batch"},
                          EMBEDDING_NAME: {0: "batch"}},
            opset_version=OPSET, dynamo=False,
        )
    model = onnx.load(str(temporary))
    del model.metadata_props[:]
    for key, value in metadata.to_props().items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.doc_string = f"soundwatch sound classifier {metadata.model_version}"
    if fp16_weights:
        store_weights_as_fp16(model)
    onnx.checker.check_model(model)
    onnx.save(model, str(temporary))
    try:
        report = check_parity(scoring, temporary, metadata, check_windows, tolerance)
    except SoundwatchError:
        temporary.unlink(missing_ok=True)
        raise
    temporary.replace(path)
    report["bytes"] = path.stat().st_size
    return report


def round_weights_to_fp16(net: nn.Module) -> None:
    """Round, in place, every float weight of at least ``FP16_MIN_ELEMENTS`` values to the
    nearest float16 (kept as float32): the function the fp16-weight file computes."""
    with torch.no_grad():
        for tensor in list(net.parameters()) + list(net.buffers()):
            if tensor.is_floating_point() and tensor.numel() >= FP16_MIN_ELEMENTS:
                tensor.copy_(tensor.half().float())


def store_weights_as_fp16(model) -> int:
    """Replace each float32 initializer of at least ``FP16_MIN_ELEMENTS`` values by a
    float16 one followed by a ``Cast`` to float32, in place; returns how many."""
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    casts = []
    converted = 0
    for initializer in list(graph.initializer):
        if (initializer.data_type != onnx.TensorProto.FLOAT
                or int(np.prod(initializer.dims)) < FP16_MIN_ELEMENTS):
            continue
        values = numpy_helper.to_array(initializer)
        half_name = initializer.name + "_fp16"
        graph.initializer.remove(initializer)
        graph.initializer.append(numpy_helper.from_array(values.astype(np.float16),
                                                         half_name))
        casts.append(helper.make_node("Cast", [half_name], [initializer.name],
                                      to=onnx.TensorProto.FLOAT,
                                      name=initializer.name + "_cast"))
        converted += 1
    for node in reversed(casts):
        graph.node.insert(0, node)
    return converted


def check_parity(scoring: nn.Module, path: Path, metadata: ModelMetadata,
                 windows: np.ndarray | None, tolerance: float) -> dict:
    """Compare onnxruntime with torch on windows (including a batch of several)."""
    import onnxruntime

    if windows is None:
        rng = np.random.default_rng(0)
        windows = rng.uniform(-90, 20, (8, metadata.window_frames,
                                        metadata.feature_spec.n_features))
    x = np.ascontiguousarray(windows, dtype=np.float32)[:, None]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    props = session.get_modelmeta().custom_metadata_map
    ModelMetadata.from_props(props, source=str(path))
    onnx_scores, onnx_embedding = session.run([SCORES_NAME, EMBEDDING_NAME], {INPUT_NAME: x})
    with torch.no_grad():
        torch_scores, torch_embedding = (t.numpy() for t in scoring(torch.from_numpy(x)))
    report = {"max_abs_diff_scores": float(np.max(np.abs(onnx_scores - torch_scores))),
              "max_abs_diff_embedding": float(np.max(np.abs(onnx_embedding
                                                            - torch_embedding)))}
    if max(report.values()) > tolerance:
        raise SoundwatchError(f"ONNX export of {path} differs from torch by "
                              f"{max(report.values()):.2e} (> {tolerance:.0e}); not saved")
    log.info("parity onnxruntime vs torch: %s", report)
    return report


def read_metadata(path: str | Path) -> ModelMetadata:
    """The metadata of an ONNX model file, checked (raises SoundwatchError when bad)."""
    import onnx

    path = Path(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises several types for a broken file
        raise SoundwatchError(f"cannot read ONNX model {path}: {exc}") from exc
    props = {p.key: p.value for p in model.metadata_props}
    return ModelMetadata.from_props(props, source=str(path))
