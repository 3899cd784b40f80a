"""ONNX export: parity with torch, metadata round trip, refusal of bad models."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the train extra (torch)")
onnx = pytest.importorskip("onnx")

from soundwatch.errors import SoundwatchError  # noqa: E402
from soundwatch.features import FeatureSpec  # noqa: E402
from soundwatch.model import Classifier  # noqa: E402
from soundwatch.model_format import ModelMetadata  # noqa: E402
from soundwatch.train.export import export_onnx, read_metadata  # noqa: E402
from soundwatch.train.net import ScoringNet, SoundNet  # noqa: E402

pytestmark = pytest.mark.train

WINDOW_FRAMES = 24


def small_net(n_labels: int = 3) -> SoundNet:
    torch.manual_seed(0)
    mean = np.linspace(-60, -20, 64)
    net = SoundNet(64, n_labels, channels=(4, 8), embedding_dim=8, feature_mean=mean,
                   feature_std=np.full(64, 12.0), double_from=2)
    # Non-trivial batch-norm statistics, so the exported graph must carry them.
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(16, 1, WINDOW_FRAMES, 64) * 15 - 50)
    return net.eval()


def metadata(labels=("knock", "alarm", "speech")) -> ModelMetadata:
    return ModelMetadata(labels=tuple(labels), feature_spec=FeatureSpec(),
                         window_frames=WINDOW_FRAMES, hop_frames=6, model_version="7",
                         training_data="synthetic", license="MIT",
                         training_command="soundwatch train --folder x=y",
                         git_commit="abc123")


def test_export_parity_dynamic_batch_and_metadata_round_trip(tmp_path):
    net = small_net()
    path = tmp_path / "model.onnx"
    rng = np.random.default_rng(0)
    windows = rng.uniform(-90, 0, (5, WINDOW_FRAMES, 64)).astype(np.float32)
    report = export_onnx(net, metadata(), path, windows)
    assert report["max_abs_diff_scores"] <= 1e-4
    assert report["max_abs_diff_embedding"] <= 1e-4
    assert read_metadata(path) == metadata()
    model = onnx.load(str(path))
    assert model.opset_import[0].version >= 17
    assert [o.name for o in model.graph.output] == ["scores", "embedding"]
    classifier = Classifier(path)
    for batch in (1, 5):  # dynamic batch
        scores, embedding = classifier.score(windows[:batch])
        with torch.no_grad():
            expected, expected_embedding = ScoringNet(net)(torch.from_numpy(windows[:batch,
                                                                                    None]))
        np.testing.assert_allclose(scores, expected.numpy(), atol=1e-4)
        np.testing.assert_allclose(embedding, expected_embedding.numpy(), atol=1e-4)
        assert scores.shape == (batch, 3) and np.all((scores >= 0) & (scores <= 1))
    # The normalisation is inside the graph: raw dB in, not standardised values.
    shifted, _ = classifier.score(windows[:1] + 20.0)
    assert not np.allclose(shifted, classifier.score(windows[:1])[0], atol=1e-3)


def test_label_count_must_match_the_network(tmp_path):
    with pytest.raises(SoundwatchError, match="2 labels but the network has 3 outputs"):
        export_onnx(small_net(), metadata(("a", "b")), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_failed_parity_check_leaves_no_file(tmp_path):
    with pytest.raises(SoundwatchError, match="differs from torch"):
        export_onnx(small_net(), metadata(), tmp_path / "m.onnx", tolerance=-1.0)
    assert list(tmp_path.iterdir()) == []


def rewrite_props(source, target, change) -> None:
    model = onnx.load(str(source))
    props = {p.key: p.value for p in model.metadata_props}
    change(props)
    del model.metadata_props[:]
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(target))


@pytest.mark.parametrize("change, message", [
    (lambda p: p.pop("labels"), "lacks \\['labels'\\]"),
    (lambda p: p.update(feature_spec="{not json"), "not valid JSON"),
    (lambda p: p.update(feature_spec=json.dumps({"n_mels": -1})), r"n_mels must be in \[1, "),
    (lambda p: p.update(labels='["a", "a", "b"]'), "duplicates"),
    (lambda p: p.update(window_frames="many"), "bad metadata"),
    (lambda p: p.update(soundwatch_format="99"), "model format '99'"),
    (lambda p: p.update(sample_rate_hz="8000"), "disagrees with the feature spec"),
])
def test_model_with_missing_or_bad_metadata_is_refused(tmp_path, change, message):
    good = tmp_path / "good.onnx"
    export_onnx(small_net(), metadata(), good)
    bad = tmp_path / "bad.onnx"
    rewrite_props(good, bad, change)
    with pytest.raises(SoundwatchError, match=message):
        read_metadata(bad)
    with pytest.raises(SoundwatchError):
        Classifier(bad)


def test_label_count_disagreeing_with_the_graph_is_refused_by_the_app(tmp_path):
    good = tmp_path / "good.onnx"
    export_onnx(small_net(), metadata(), good)
    bad = tmp_path / "bad.onnx"
    rewrite_props(good, bad, lambda p: p.update(labels='["only", "two"]'))
    with pytest.raises(SoundwatchError):
        Classifier(bad)
