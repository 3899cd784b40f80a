"""A tiny run of the YAMNet-based recipe on synthetic audio, with a synthetic YAMNet.

The weights are random (YAMNet-shaped, in TFLite layouts) and the class map is made up
around the AudioSet names the home labels need, so the run needs no ``../shared``. It
checks the whole path: windows (with lead-in and noisy copies), embeddings, the masked
head, calibration, test-fold scoring, and an ONNX file that the app loads with both heads.
"""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pytest
import soundfile

torch = pytest.importorskip("torch", reason="needs the train extra (torch)")

from soundwatch.detect import ClassSettings  # noqa: E402
from soundwatch.errors import SoundwatchError  # noqa: E402
from soundwatch.features import YAMNET_SPEC, compute_features  # noqa: E402
from soundwatch.model import Classifier  # noqa: E402
from soundwatch.train.home_labels import HOME_LABELS, PROXY_LABELS  # noqa: E402
from soundwatch.train.pretrained import (  # noqa: E402
    PretrainedSoundNet,
    calibrate_home_offset,
    fit_head,
    home_label_indices,
    loud_frames,
    mix_batch,
    mix_magnitudes,
)
from soundwatch.train.recipe import DataSources  # noqa: E402
from soundwatch.train.run import RunOptions  # noqa: E402
from soundwatch.train.run_pretrained import run_pretrained_training  # noqa: E402
from soundwatch.train.sampling import clip_windows  # noqa: E402
from soundwatch.train.settings import HeadConfig  # noqa: E402
from soundwatch.train.yamnet import yamnet_from_weights  # noqa: E402
from tests.test_train_pipeline import LABELS, hum, synth  # noqa: E402
from tests.test_yamnet import random_weights  # noqa: E402

pytestmark = pytest.mark.train
RATE_HZ = 16000


def made_up_class_names() -> list[str]:
    """521 names: the ones the home and proxy labels need, the rest placeholders."""
    needed = sorted({n for names in list(HOME_LABELS.values()) + list(PROXY_LABELS.values())
                     for n in names})
    return needed + [f"placeholder {i}" for i in range(521 - len(needed))]


def in_silence(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 2 s ESC-50-like clip: the sound starts somewhere in the first half."""
    out = (1e-3 * rng.standard_normal(2 * RATE_HZ)).astype(np.float32)
    start = int(rng.integers(0, RATE_HZ // 2))
    out[start:start + len(clip)] += clip[: len(out) - start]
    return out


@pytest.fixture(scope="module")
def esc50_like(tmp_path_factory) -> DataSources:
    root = tmp_path_factory.mktemp("esc50_like")
    (root / "audio").mkdir()
    rng = np.random.default_rng(2)
    rows = []
    for target, label in enumerate(LABELS):
        for fold in (1, 2):
            for i in range(6):
                name = f"{fold}-{label}-{i}.wav"
                soundfile.write(str(root / "audio" / name),
                                in_silence(synth(label, rng), rng), RATE_HZ)
                rows.append({"filename": name, "fold": fold, "target": target,
                             "category": label, "src_file": name})
    with open(root / "esc50.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (root / "noise").mkdir()
    soundfile.write(str(root / "noise" / "hum.wav"), hum(rng, 8.0), RATE_HZ)
    return DataSources(esc50=root, backgrounds=[root / "noise"])


@pytest.fixture(scope="module")
def yamnet():
    return yamnet_from_weights(random_weights(seed=4))


@pytest.fixture(scope="module")
def trained(esc50_like, yamnet, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("run")
    options = RunOptions(sources=esc50_like, out_dir=out, test_fold=1, val_fraction=0.0,
                         holdout_fraction=0.0, cache_dir=out / "cache", progress=False,
                         command="soundwatch train --init yamnet --esc50 esc50_like",
                         detector_classes={LABELS[0]: ClassSettings(threshold_on=0.5,
                                                                    min_duration_s=0.0)})
    config = HeadConfig(epochs=60, hidden=64, dropout=0.1, batch_size=32,
                        learning_rate=3e-3)
    return run_pretrained_training(options, yamnet, made_up_class_names(), "random-4",
                                   config)


def test_a_data_label_that_yamnet_also_keeps_is_refused_with_a_rename(yamnet, tmp_path):
    """A user's own `drawer` recordings: the message said only "rename the data's
    folders", not why nor how."""
    folder = tmp_path / "drawer"
    folder.mkdir()
    soundfile.write(str(folder / "a.wav"), hum(np.random.default_rng(0), 1.0), RATE_HZ)
    label = next(iter(HOME_LABELS))
    options = RunOptions(sources=DataSources(label_folders=[(label, folder)]),
                         out_dir=tmp_path / "run", val_fraction=0.0, holdout_fraction=0.0,
                         cache_dir=tmp_path / "cache", progress=False)
    with pytest.raises(SoundwatchError, match=f"YAMNet's AudioSet head.*e.g. {label}_mine"):
        run_pretrained_training(options, yamnet, made_up_class_names(), "random-4")


def test_summary_names_both_label_sets_and_scores_the_fold(trained):
    assert trained["init"] == "yamnet"
    assert trained["labels"] == list(LABELS) + list(HOME_LABELS)
    assert trained["project_labels"] == list(LABELS)
    assert trained["test_fold"] == 1 and 0.0 <= trained["test_accuracy"] <= 1.0
    assert trained["history"][-1]["loss"] < trained["history"][0]["loss"]
    assert trained["export"]["max_abs_diff_scores"] <= 1e-4


def test_app_loads_the_model_with_both_heads(trained, yamnet):
    classifier = Classifier(trained["model_path"], threads=1)
    assert classifier.labels == tuple(LABELS) + tuple(HOME_LABELS)
    assert classifier.spec == YAMNET_SPEC
    assert classifier.window_frames == 96 and classifier.has_embedding
    # the per-class detector settings it was given travel in its metadata
    assert classifier.class_defaults == {LABELS[0]: ClassSettings(threshold_on=0.5,
                                                                  min_duration_s=0.0)}
    rng = np.random.default_rng(99)
    windows = clip_windows(compute_features(in_silence(synth("tone", rng), rng),
                                            YAMNET_SPEC), 96, 25, YAMNET_SPEC.silence_value)
    scores, embedding = classifier.score(windows)
    assert embedding.shape == (len(windows), 1024)
    # The AudioSet head is YAMNet's own: a home label's score is the calibrated
    # sigmoid of the best logit among its AudioSet classes.
    names = made_up_class_names()
    offset = trained["calibration"]["offset"]
    with torch.no_grad():
        logits = yamnet.audioset_head(torch.from_numpy(embedding)).numpy()
    for k, (label, classes) in enumerate(HOME_LABELS.items()):
        best = logits[:, [names.index(c) for c in classes]].max(axis=1)
        expected = 1 / (1 + np.exp(-(best + offset)))
        np.testing.assert_allclose(scores[:, len(LABELS) + k], expected, rtol=1e-4,
                                   atol=1e-5, err_msg=label)


def test_project_head_learns_the_sounds(trained):
    """Even a random body's embeddings separate tones, bursts and chirps."""
    classifier = Classifier(trained["model_path"], threads=1)
    rng = np.random.default_rng(12345)
    correct = 0
    for label in LABELS:
        for _ in range(5):
            features = compute_features(in_silence(synth(label, rng), rng), YAMNET_SPEC)
            scores, _ = classifier.score(clip_windows(features, 96, 25,
                                                      YAMNET_SPEC.silence_value))
            correct += LABELS[int(np.argmax(scores[:, :len(LABELS)].mean(axis=0)))] == label
    assert correct / 15 >= 0.8


def test_fine_tuned_top_layers_learn_in_their_own_branch(esc50_like, yamnet, trained,
                                                        tmp_path):
    """tune_top_layers: a fine-tuned copy of YAMNet's last layer feeds the project head,
    while the embedding output and the home labels stay YAMNet's own."""
    options = RunOptions(sources=esc50_like, out_dir=tmp_path, test_fold=1, val_fraction=0.0,
                         holdout_fraction=0.0, cache_dir=tmp_path / "cache", progress=False)
    config = HeadConfig(epochs=30, hidden=64, dropout=0.1, batch_size=32,
                        learning_rate=3e-3, tune_top_layers=1, top_learning_rate_factor=0.3)
    before = [p.detach().clone() for p in yamnet.body.parameters()]
    summary = run_pretrained_training(options, yamnet, made_up_class_names(), "random-4",
                                      config)
    # YAMNet itself is untouched: only the copy learnt
    assert all(torch.equal(a, b) for a, b in zip(before, yamnet.body.parameters(),
                                                  strict=True))
    assert summary["history"][-1]["loss"] < summary["history"][0]["loss"]
    assert summary["export"]["max_abs_diff_scores"] <= 1e-4
    tuned = Classifier(summary["model_path"], threads=1)
    head_only = Classifier(trained["model_path"], threads=1)
    rng = np.random.default_rng(7)
    windows = clip_windows(compute_features(in_silence(synth("chirp", rng), rng),
                                            YAMNET_SPEC), 96, 25, YAMNET_SPEC.silence_value)
    scores, embedding = tuned.score(windows)
    reference_scores, reference = head_only.score(windows)
    np.testing.assert_allclose(embedding, reference, rtol=1e-5, atol=1e-5)
    n_home = len(HOME_LABELS)
    np.testing.assert_allclose(scores[:, -n_home:], reference_scores[:, -n_home:],
                               rtol=1e-3, atol=1e-3)  # same calibration data, same offset
    assert not np.allclose(scores[:, :-n_home], reference_scores[:, :-n_home], atol=1e-3)


def test_audioset_twins_lift_their_labels_to_yamnets_own_score_and_export(yamnet, tmp_path):
    """HeadConfig.audioset_twins: a project label with AudioSet twins scores the higher
    of the head's score and its twins' calibrated one; other labels and the home labels
    are untouched; the ONNX file computes the same."""
    from soundwatch.model_format import ModelMetadata
    from soundwatch.train.export import export_onnx

    names = made_up_class_names()
    _, home_groups, proxies = home_label_indices(names)
    head = torch.nn.Linear(1024, 3)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.constant_(head.bias, -2.0)  # every project score 0.12
    rng = np.random.default_rng(5)
    features = torch.from_numpy(rng.uniform(-6, 2, (8, 1, 96, 64)).astype(np.float32))
    with torch.no_grad():
        embedding = yamnet.body.time_cells(features).mean(dim=2)
        twin_best = yamnet.audioset_head(embedding)[:, proxies["dog"]].amax(dim=1)
    offset = float(-twin_best.median())  # half the windows' twin score above 0.5
    plain = PretrainedSoundNet(yamnet, head, home_groups, offset).eval()
    twinned = PretrainedSoundNet(yamnet, head, home_groups, offset,
                                 twins={1: proxies["dog"]}, n_project=3).eval()
    with torch.no_grad():
        before, _ = plain(features)
        after, _ = twinned(features)
    expected = torch.maximum(before[:, 1], torch.sigmoid(twin_best + offset))
    torch.testing.assert_close(after[:, 1], expected)
    assert (after[:, 1] > before[:, 1] + 0.3).sum() >= 3  # lifted where YAMNet hears it
    torch.testing.assert_close(after[:, [0, 2]], before[:, [0, 2]])
    torch.testing.assert_close(after[:, 3:], before[:, 3:])  # the home labels
    labels = ("tone", "dog", "chirp", *[f"home{k}" for k in range(len(home_groups))])
    path = tmp_path / "twins.onnx"
    export_onnx(twinned, ModelMetadata(
        labels=labels, feature_spec=YAMNET_SPEC, window_frames=96, hop_frames=25,
        score_activation="sigmoid", model_version="test", training_data="synthetic",
        license="MIT", training_command="test", git_commit=""), path,
        features[:, 0].numpy())
    scores, _ = Classifier(path, threads=1).score(features[:, 0].numpy())
    with torch.no_grad():
        after, _ = twinned(features)  # the export rounded the weights to fp16 first
    np.testing.assert_allclose(scores, after.numpy(), atol=1e-4)
    with pytest.raises(ValueError, match="calibrated with the home labels"):
        PretrainedSoundNet(yamnet, head, [], offset, twins={1: proxies["dog"]}, n_project=3)


def test_loud_frames_and_magnitude_mixing():
    rng = np.random.default_rng(0)
    clip = np.zeros(16000, np.float32)
    clip[8000:12000] = 0.3 * rng.standard_normal(4000)
    features = compute_features(clip + 1e-4 * rng.standard_normal(16000).astype(np.float32),
                                YAMNET_SPEC)
    loud = loud_frames(features, 20.0)
    assert loud[55:70].all() and not loud[:40].any()
    silence = np.full_like(features, YAMNET_SPEC.silence_value)
    np.testing.assert_allclose(mix_magnitudes(features, silence, 5.0), features, atol=1e-5)
    doubled = mix_magnitudes(features, features, 1.0)
    np.testing.assert_allclose(np.exp(doubled) - 0.001, 2 * (np.exp(features) - 0.001),
                               rtol=1e-4, atol=1e-6)


def test_calibration_puts_the_negatives_cut_on_the_threshold():
    rng = np.random.default_rng(0)
    logits = rng.normal(-5, 1, (2000, 521))
    labels = ["dog"] * 500 + [None] * 1500
    logits[:500, 69] += 6  # "dog" windows score high on AudioSet's Dog
    result = calibrate_home_offset(logits, {"dog": [69]}, labels, threshold_on=0.7,
                                   max_background_rate=0.01)
    assert result["negative_rate"] <= 0.011
    assert result["proxy_recall"] > 0.9
    cut_score = 1 / (1 + np.exp(-(result["cut_logit"] + result["offset"])))
    assert cut_score == pytest.approx(0.7)


def test_training_windows_lead_into_event_clips_but_not_whole_files():
    from soundwatch.train.datasets import ClipRecord
    from soundwatch.train.feature_cache import FeatureBank
    from soundwatch.train.pretrained import clip_training_windows, whole_file_activity

    rng = np.random.default_rng(0)
    clip = compute_features(in_silence(synth("tone", rng), rng), YAMNET_SPEC)  # 2 s
    records = [ClipRecord(path=__import__("pathlib").Path(f"{i}.wav"), label="tone",
                          dataset="x", fold=1 if i == 0 else None) for i in range(2)]
    bank = FeatureBank(records, np.concatenate([clip, clip]),
                       np.array([0, len(clip), 2 * len(clip)]))
    config = dataclasses.replace(HeadConfig(), noisy_copies=1, lead_frames=72, hop_frames=24)
    windows = clip_training_windows(bank, None, config, [False, True], rng)
    event, whole = windows.record == 0, windows.record == 1
    # Event clip: lead-in windows (the first one starts 72 frames before the clip, all
    # silence, so no loud frame), twice (a clean and a noisy copy).
    n_per_copy = (72 + len(clip) - 96) // 24 + 1
    assert event.sum() == 2 * n_per_copy
    assert windows.active[event][0] <= 24  # mostly lead-in
    # Whole-file clip: no lead-in; its loud frames count, as in an event clip.
    assert whole.sum() == (len(clip) - 96) // 24 + 1
    assert np.array_equal(windows.active[whole], whole_file_activity(clip, config))


def test_a_pause_in_a_whole_file_label_is_not_taught_as_that_label():
    """A speech file's silent stretch must teach "not speech" (else near silence scores
    as speech): its windows have no loud frame, so they are the label's negatives."""
    from soundwatch.train.pretrained import whole_file_activity

    rng = np.random.default_rng(1)
    talk = synth("tone", rng)[:RATE_HZ]
    pause = (1e-4 * rng.standard_normal(2 * RATE_HZ)).astype(np.float32)
    features = compute_features(np.concatenate([talk, pause]), YAMNET_SPEC)
    config = HeadConfig()
    active = whole_file_activity(features, config)
    starts = np.arange(len(active)) * config.hop_frames
    assert np.all(active[starts + 96 <= 100] >= config.min_active_frames)  # in the talk
    assert np.all(active[starts >= 110] == 0)  # wholly in the pause


def tone_bank_and_hiss(rng):
    """A bank of one 2 s tone twice (a short-event clip, then a whole-file one) and a
    bank of 4 s of hiss (the background)."""
    from pathlib import Path

    from soundwatch.train.datasets import ClipRecord
    from soundwatch.train.feature_cache import FeatureBank

    clip = compute_features(in_silence(synth("tone", rng), rng), YAMNET_SPEC)
    hiss = compute_features((0.01 * rng.standard_normal(4 * RATE_HZ)).astype(np.float32),
                            YAMNET_SPEC)
    records = [ClipRecord(path=Path(f"{i}.wav"), label="tone", dataset="x",
                          fold=1 if i == 0 else None) for i in range(2)]
    bank = FeatureBank(records, np.concatenate([clip, clip]),
                       np.array([0, len(clip), 2 * len(clip)]))
    noise = FeatureBank([ClipRecord(path=Path("n.wav"), label="", dataset="bg", fold=None)],
                        hiss, np.array([0, len(hiss)]))
    return bank, noise


def test_short_excerpts_put_one_short_sound_into_noise_at_the_asked_ratio():
    from soundwatch.train.pretrained import short_training_windows

    rng = np.random.default_rng(2)
    bank, noise = tone_bank_and_hiss(rng)
    config = dataclasses.replace(HeadConfig(), short_copies=3, short_max_frames=40,
                                 short_snr_db_min=0.0, short_snr_db_max=0.0, lead_frames=72,
                                 hop_frames=24)
    windows = short_training_windows(bank, noise, config, [False, True], rng)
    assert set(windows.record) == {0}  # whole-file labels (speech, music) get no excerpt
    # Each excerpt (20-40 frames) starts 72 frames into its bed and the bed runs 48 past
    # it: 2 or 3 windows per copy; the last reaches past the excerpt, the first holds
    # only its first 24 frames, and no window more than the excerpt's loud frames.
    assert 3 * 2 <= len(windows.record) <= 3 * 3
    assert windows.active.max() <= 40 and windows.active.max() >= 20
    # The noise is there (no window is digital silence) and, at 0 dB, the lead-in's noise
    # is about as loud as the sound: the lead-in frames sit within 10 dB of the loudest.
    magnitude_db = 20 * np.log10(np.exp(windows.windows).mean(axis=2))
    assert np.all(magnitude_db[:, :24].max(axis=1) > magnitude_db.max(axis=1) - 10)
    no_noise = short_training_windows(bank, None, config, [False, True], rng)
    assert len(no_noise.record) == 0 and no_noise.windows.shape == (0, 96, 64)


def test_scaled_magnitudes_are_the_features_of_the_scaled_audio():
    from soundwatch.train.pretrained import scale_magnitudes

    rng = np.random.default_rng(4)
    audio = in_silence(synth("tone", rng), rng)
    for gain_db in (-30.0, -10.0, 6.0):
        gain = 10 ** (gain_db / 20)
        expected = compute_features(audio * np.float32(gain), YAMNET_SPEC)
        scaled = scale_magnitudes(compute_features(audio, YAMNET_SPEC), gain)
        # the mel magnitude is linear in the audio, so only float32 rounding differs
        np.testing.assert_allclose(scaled, expected, atol=2e-3)


def test_quiet_copies_are_noisy_copies_made_quieter_by_the_asked_gain():
    from soundwatch.train.pretrained import clip_training_windows, quiet_training_windows

    rng = np.random.default_rng(3)
    bank, noise = tone_bank_and_hiss(rng)
    config = dataclasses.replace(HeadConfig(), quiet_copies=2, noisy_copies=0,
                                 quiet_gain_db_min=-25.0, quiet_gain_db_max=-15.0)
    quiet = quiet_training_windows(bank, noise, config, [False, True], rng)
    loud = clip_training_windows(bank, noise, config, [False, True], rng)
    assert set(quiet.record) == {0}  # whole-file labels (speech, music) get no copy
    per_copy = int(np.sum(loud.record == 0))  # the clean copy's window count, lead-in too
    assert len(quiet.record) == 2 * per_copy
    # the same loud frames per window (the sound is where it was), 15-25 dB quieter
    np.testing.assert_array_equal(quiet.active, np.tile(loud.active[loud.record == 0], 2))

    def loudest_db(windows):
        return 20 * np.log10(np.exp(windows).mean(axis=2).max())

    for copy in range(2):
        windows = quiet.windows[copy * per_copy:(copy + 1) * per_copy]
        drop = loudest_db(windows) - loudest_db(loud.windows[loud.record == 0])
        assert -26.0 < drop < -14.0
    assert len(quiet_training_windows(bank, None, config, [False, True], rng).record) == 0
    none = dataclasses.replace(config, quiet_copies=0)
    assert len(quiet_training_windows(bank, noise, none, [False, True], rng).record) == 0


@pytest.mark.parametrize("extra,fewest,most", [
    # each of the 18 training clips (fold 2): one excerpt of 2-3 windows
    ("short", 18 * 2, 18 * 3),
    # each of them, whole, after its 0.72 s lead-in: at least the 3 lead-in windows
    ("quiet", 18 * 4, 18 * 12),
])
def test_extra_copies_join_the_training_windows_from_a_cache_of_their_own(
        esc50_like, yamnet, trained, tmp_path, extra, fewest, most):
    options = RunOptions(sources=esc50_like, out_dir=tmp_path, test_fold=1, val_fraction=0.0,
                         holdout_fraction=0.0, cache_dir=tmp_path / "cache", progress=False)
    config = HeadConfig(epochs=3, hidden=64, dropout=0.1, batch_size=32, tune_top_layers=1,
                        short_max_frames=40, **{f"{extra}_copies": 1})
    summary = run_pretrained_training(options, yamnet, made_up_class_names(), "random-4",
                                      config)
    cache = tmp_path / "cache"
    assert len(list(cache.glob(f"yamnet-{extra}-cells-*.npz"))) == 1
    assert len(list(cache.glob(f"yamnet-{extra}-lower1-*.npz"))) == 1
    # on top of the head-only run's windows (same main windows, same background)
    assert fewest <= summary["training_windows"] - trained["training_windows"] <= most
    main_caches = sorted(p.name for p in cache.glob("yamnet-cells-*.npz"))
    again = run_pretrained_training(options, yamnet, made_up_class_names(), "random-4",
                                    dataclasses.replace(config, **{f"{extra}_copies": 0}))
    # without them: the same main cache, no new extra one
    assert sorted(p.name for p in cache.glob("yamnet-cells-*.npz")) == main_caches
    assert len(list(cache.glob(f"yamnet-{extra}-cells-*.npz"))) == 1
    assert again["training_windows"] == trained["training_windows"]


def test_mix_batch_blends_inputs_and_targets_alike_and_keeps_unknown_targets_out():
    rng = np.random.default_rng(3)
    targets = torch.from_numpy(np.eye(6, dtype=np.float32))
    mask = torch.ones(6, 6)
    mask[2, 4] = 0.0  # row 2 does not know label 4
    x, y, m = mix_batch(targets.clone(), targets, mask, 1.0, rng)
    # inputs that are the targets themselves must come out as the blended targets
    torch.testing.assert_close(x, y)
    assert torch.all((y >= 0) & (y <= 1))
    torch.testing.assert_close(y.sum(dim=1), torch.ones(6))  # convex weights
    mixed_rows = (y > 0).sum(dim=1)
    assert (mixed_rows == 2).sum() >= 4  # most rows hold two sounds
    # row 2's unknown label 4 stays unknown wherever row 2 went
    assert m[2, 4] == 0 and int((m == 0).sum()) == 2


def test_mixup_teaches_a_mixture_of_two_sounds_intermediate_scores():
    rng = np.random.default_rng(0)
    half = 512  # the head reads YAMNet's 1024-d embedding
    centres = np.array([[1.0] * half + [0.0] * half, [0.0] * half + [1.0] * half], np.float32)
    which = rng.integers(0, 2, 400)
    x = centres[which] + rng.normal(0, 0.3, (400, 2 * half)).astype(np.float32)
    targets = np.eye(2, dtype=np.float32)[which]
    mask = np.ones_like(targets)
    config = HeadConfig(hidden=32, dropout=0.0, epochs=40, batch_size=64, mixup_alpha=1.0)
    head, _ = fit_head(x, targets, mask, config, 2)
    with torch.no_grad():
        scores = torch.sigmoid(head(torch.from_numpy(np.vstack(
            [centres, centres.mean(axis=0, keepdims=True)])))).numpy()
    assert scores[0, 0] > 0.8 and scores[0, 1] < 0.2  # each sound alone: its own label
    assert scores[1, 1] > 0.8 and scores[1, 0] < 0.2
    # half of each: about half sure of each (without mixup: 0.53 and 0.70 here)
    assert np.all(np.abs(scores[2] - 0.5) < 0.1)
