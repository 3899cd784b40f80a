"""A tiny end-to-end training run on synthetic audio: train -> ONNX -> the app classifies.

Three sounds a small CNN can tell apart in seconds of CPU: steady tones, noise bursts and
rising chirps, plus a faint steady hiss as background. The exported model is loaded by the app's
own Classifier and must label fresh clips (other seeds) correctly and stay quiet on
background alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

pytest.importorskip("torch", reason="needs the train extra (torch)")

from soundwatch.errors import SoundwatchError  # noqa: E402
from soundwatch.features import compute_features  # noqa: E402
from soundwatch.model import Classifier  # noqa: E402
from soundwatch.train.augment import AugmentConfig  # noqa: E402
from soundwatch.train.recipe import DataSources  # noqa: E402
from soundwatch.train.run import RunOptions, run_training  # noqa: E402
from soundwatch.train.sampling import clip_windows  # noqa: E402
from soundwatch.train.settings import TrainConfig  # noqa: E402

pytestmark = pytest.mark.train

RATE_HZ = 16000
LABELS = ("chirp", "noise_burst", "tone")


def synth(label: str, rng: np.random.Generator, duration_s: float = 1.0) -> np.ndarray:
    """(n,) float32 clip of one synthetic sound at a random level, in faint noise."""
    n = int(duration_s * RATE_HZ)
    t = np.arange(n) / RATE_HZ
    if label == "tone":
        signal = np.sin(2 * np.pi * rng.uniform(500, 1500) * t)
    elif label == "chirp":  # fast up-sweeps, 8 per second: clearly diagonal in a window
        f0, f1, period_s = rng.uniform(300, 800), rng.uniform(3000, 6000), 0.125
        local_t = t % period_s
        signal = np.sin(2 * np.pi * (f0 * local_t + (f1 - f0) * local_t**2 / (2 * period_s)))
    else:
        envelope = np.zeros(n)
        for start in range(0, n, 4000):  # a 0.15 s burst every 0.25 s
            envelope[start: start + 2400] = 1.0
        signal = rng.standard_normal(n) * envelope
    level = 10 ** (rng.uniform(-20, -6) / 20)
    return (level * signal + 1e-3 * rng.standard_normal(n)).astype(np.float32)


def hum(rng: np.random.Generator, duration_s: float) -> np.ndarray:
    """Background: a steady faint hiss (a fan, a quiet room), nothing of interest."""
    return (0.005 * rng.standard_normal(int(duration_s * RATE_HZ))).astype(np.float32)


def tiny_config(**changes) -> TrainConfig:
    values = dict(window_frames=32, hop_frames=8, channels=(8, 16, 16), embedding_dim=16,
                  epochs=40, batch_size=16, learning_rate=5e-3, warmup_epochs=1,
                  crops_per_label=48, negatives=72, threads=1, patience=100,
                  # No frequency masks: one could erase a tone whole while its label stays.
                  augment=AugmentConfig(mixup_prob=0.2, background_prob=0.3, time_masks=1,
                                        freq_masks=0))
    values.update(changes)
    return TrainConfig(**values)


@pytest.fixture(scope="module")
def synthetic_data(tmp_path_factory) -> DataSources:
    root = tmp_path_factory.mktemp("synthetic")
    rng = np.random.default_rng(1)
    for label in LABELS:
        (root / "classes" / label).mkdir(parents=True)
        for i in range(8):
            soundfile.write(str(root / "classes" / label / f"{i}.wav"), synth(label, rng),
                            RATE_HZ)
    (root / "noise").mkdir()
    soundfile.write(str(root / "noise" / "hum.wav"), hum(rng, 6.0), RATE_HZ)
    return DataSources(folder_per_class=[root / "classes"], backgrounds=[root / "noise"])


@pytest.fixture(scope="module")
def trained(synthetic_data, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("run")
    options = RunOptions(sources=synthetic_data, out_dir=out, config=tiny_config(),
                         val_fraction=0.25, holdout_fraction=0.0,
                         cache_dir=out / "cache", progress=False,
                         command="soundwatch train --folder-per-class classes")
    return run_training(options)


def fresh_clip_accuracy(classifier: Classifier) -> float:
    """Share of 18 clips the model never saw (6 per label) whose pooled scores pick the
    right label."""
    rng = np.random.default_rng(12345)
    pad_db = 10 * np.log10(classifier.spec.log_floor)
    correct = 0
    trials = [(label, synth(label, rng)) for label in LABELS for _ in range(6)]
    for label, clip in trials:
        windows = clip_windows(compute_features(clip, classifier.spec),
                               classifier.window_frames, classifier.hop_frames, pad_db)
        scores, embedding = classifier.score(windows)
        assert embedding.shape == (len(windows), 16)  # tiny_config().embedding_dim
        correct += LABELS[int(np.argmax(scores.mean(axis=0)))] == label
    return correct / len(trials)


def test_training_writes_log_checkpoint_and_model(trained):
    out = Path(trained["model_path"]).parent
    assert (out / "checkpoint.pt").is_file()
    assert len((out / "log.jsonl").read_text().splitlines()) == trained["epochs_run"] == 40
    losses = [h["train_loss"] for h in trained["history"]]
    assert losses[-1] < losses[0]
    assert trained["export"]["max_abs_diff_scores"] <= 1e-4
    assert trained["labels"] == list(LABELS)


def test_app_classifier_labels_fresh_clips_and_ignores_background(trained):
    classifier = Classifier(trained["model_path"], threads=1)
    assert classifier.labels == LABELS
    assert classifier.has_embedding
    assert classifier.metadata.training_command == "soundwatch train --folder-per-class classes"
    assert fresh_clip_accuracy(classifier) >= 0.9
    rng = np.random.default_rng(54321)
    pad_db = 10 * np.log10(classifier.spec.log_floor)
    background = compute_features(hum(rng, 3.0), classifier.spec)
    scores, _ = classifier.score(clip_windows(background, classifier.window_frames,
                                              classifier.hop_frames, pad_db))
    assert scores.max() < 0.5  # "nothing of interest": every label stays low


def test_interrupted_run_resumes_to_the_same_weights(synthetic_data, tmp_path, monkeypatch):
    import torch

    from soundwatch.train import sampling

    def options(out: Path) -> RunOptions:
        return RunOptions(sources=synthetic_data, out_dir=out,
                          config=tiny_config(epochs=3, channels=(4, 8)), val_fraction=0.25,
                          holdout_fraction=0.0, cache_dir=tmp_path / "cache", progress=False)

    straight = run_training(options(tmp_path / "straight"))
    calls = {"n": 0}
    original = sampling.WindowSampler.epoch_items

    def interrupt_at_third_epoch(self, rng):
        calls["n"] += 1
        if calls["n"] == 4:  # call 1 counts steps; calls 2, 3 are epochs 1, 2
            raise KeyboardInterrupt
        return original(self, rng)

    monkeypatch.setattr(sampling.WindowSampler, "epoch_items", interrupt_at_third_epoch)
    with pytest.raises(KeyboardInterrupt):
        run_training(options(tmp_path / "resumed"))
    monkeypatch.setattr(sampling.WindowSampler, "epoch_items", original)
    first = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=False)
    assert first["state"]["epoch"] == 2
    resumed = run_training(options(tmp_path / "resumed"))
    assert [h["epoch"] for h in resumed["history"]] == [1, 2, 3]
    assert ([h["train_loss"] for h in resumed["history"]]
            == [h["train_loss"] for h in straight["history"]])
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)["net"]
    b = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=False)["net"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6)


def test_checkpoint_of_another_recipe_is_refused(synthetic_data, trained):
    out = Path(trained["model_path"]).parent
    options = RunOptions(sources=synthetic_data, out_dir=out,
                         config=tiny_config(learning_rate=1e-2), val_fraction=0.25,
                         holdout_fraction=0.0, cache_dir=out / "cache", progress=False)
    with pytest.raises(SoundwatchError, match=r"another recipe \(learning_rate\)"):
        run_training(options)


def test_checkpoint_of_other_training_data_is_refused(synthetic_data, trained, tmp_path):
    """The same run folder after the data changed (a clip replaced): it resumed the
    finished checkpoint and exported the old weights as if trained on the new data."""
    import shutil

    out = Path(trained["model_path"]).parent
    changed = tmp_path / "classes"
    shutil.copytree(synthetic_data.folder_per_class[0], changed)
    label = LABELS[0]
    soundfile.write(str(changed / label / "0.wav"),
                    synth(label, np.random.default_rng(99)), RATE_HZ)
    options = RunOptions(sources=DataSources(folder_per_class=[changed],
                                             backgrounds=synthetic_data.backgrounds),
                         out_dir=out, config=tiny_config(), val_fraction=0.25,
                         holdout_fraction=0.0, cache_dir=tmp_path / "cache", progress=False)
    with pytest.raises(SoundwatchError, match="another training data"):
        run_training(options)


def test_training_device_is_resolved_and_reported(trained):
    import torch

    from soundwatch.train.fit import resolve_device

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert trained["device"].split(" ")[0] == expected  # --device auto picks it
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(SoundwatchError, match="auto, cpu or cuda"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(SoundwatchError, match="no CUDA GPU"):
            resolve_device("cuda")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_either_precision_trains_a_float32_model_that_classifies(synthetic_data, tmp_path,
                                                                 precision):
    # bf16 autocast where the hardware has it (what --precision auto picks here), fp32
    # elsewhere: both must give a float32 ONNX model that passes the parity check.
    # bf16 is emulated on most CPUs (4x slower): fewer epochs, still learnt
    config = tiny_config(epochs=40 if precision == "fp32" else 12)
    options = RunOptions(sources=synthetic_data, out_dir=tmp_path, config=config,
                         val_fraction=0.25, holdout_fraction=0.0, cache_dir=tmp_path / "c",
                         progress=False, precision=precision)
    summary = run_training(options)
    assert summary["precision"] == precision
    assert summary["export"]["max_abs_diff_scores"] <= 1e-4
    assert fresh_clip_accuracy(Classifier(summary["model_path"], threads=1)) >= 0.9


def test_training_precision_is_resolved(monkeypatch):
    import torch

    from soundwatch.train import fit

    cpu = torch.device("cpu")
    assert fit.resolve_precision("fp32", cpu) == "fp32"
    assert fit.resolve_precision("bf16", cpu) == "bf16"
    monkeypatch.setattr(fit, "native_bf16", lambda device: False)
    assert fit.resolve_precision("auto", cpu) == "fp32"
    monkeypatch.setattr(fit, "native_bf16", lambda device: True)
    assert fit.resolve_precision("auto", cpu) == "bf16"
    with pytest.raises(SoundwatchError, match="auto, bf16 or fp32"):
        fit.resolve_precision("fp16", cpu)
