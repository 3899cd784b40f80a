"""Dataset readers and the feature cache on small generated layouts (no torch needed)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile

from soundwatch.errors import SoundwatchError
from soundwatch.features import FeatureSpec, compute_features
from soundwatch.train.datasets import (
    parse_label_folder,
    read_background_folder,
    read_esc50,
    read_folder_per_class,
    read_label_folder,
    read_urbansound8k,
)
from soundwatch.train.feature_cache import load_feature_bank
from soundwatch.train.recipe import DataSources, make_splits, split_groups


def chirp(duration_s: float, rate_hz: int, f0_hz: float = 300.0, f1_hz: float = 3000.0):
    t = np.arange(int(duration_s * rate_hz)) / rate_hz
    phase = 2 * np.pi * (f0_hz * t + (f1_hz - f0_hz) * t**2 / (2 * duration_s))
    return (0.3 * np.sin(phase)).astype(np.float32)


def write_audio(path: Path, signal: np.ndarray, rate_hz: int = 16000,
                subtype: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), signal, rate_hz, subtype=subtype)
    return path


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def esc50_root(tmp_path):
    root = tmp_path / "esc50"
    rows = []
    for fold in (1, 2):
        for target, category in ((1, "rooster"), (0, "dog")):
            for take in "AB":
                name = f"{fold}-{100 + target}-{take}-{target}.wav"
                write_audio(root / "audio" / name, chirp(0.5, 16000, 200 + 500 * target))
                rows.append([name, fold, target, category, False, 100 + target + 10 * fold,
                             take])
    write_csv(root / "esc50.csv",
              ["filename", "fold", "target", "category", "esc10", "src_file", "take"], rows)
    return root


def test_esc50_reads_folds_groups_and_label_order(esc50_root):
    records = read_esc50(esc50_root)
    assert len(records) == 8
    assert [r.label for r in records][:2] == ["dog", "dog"]  # target 0 comes first
    assert {r.fold for r in records} == {1, 2}
    takes = [r for r in records if r.fold == 1 and r.label == "dog"]
    assert len({r.group for r in takes}) == 1  # both takes of one source recording
    assert all(r.path.is_file() for r in records)


def test_esc50_wrong_path_missing_csv_and_columns(tmp_path, esc50_root):
    with pytest.raises(SoundwatchError, match="not found"):
        read_esc50(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SoundwatchError, match="esc50.csv"):
        read_esc50(empty)
    write_csv(esc50_root / "esc50.csv", ["filename", "fold"], [["a.wav", 1]])
    with pytest.raises(SoundwatchError, match=r"lacks the columns \['category'\]"):
        read_esc50(esc50_root)


def test_esc50_missing_audio_is_named(esc50_root):
    victim = next((esc50_root / "audio").iterdir())
    victim.unlink()
    with pytest.raises(SoundwatchError, match=f"1 of 8 files.*{victim.name}"):
        read_esc50(esc50_root)


def test_urbansound8k_layout(tmp_path):
    root = tmp_path / "UrbanSound8K"
    rows = []
    for fold in (1, 3):
        for class_id, name in ((3, "dog_bark"), (1, "car_horn")):
            file_name = f"{fold}{class_id}-0-0.wav"
            # Any rate and channel count: 22.05 kHz stereo here.
            stereo = np.stack([chirp(0.4, 22050), chirp(0.4, 22050)], axis=1)
            write_audio(root / "audio" / f"fold{fold}" / file_name, stereo, 22050)
            rows.append([file_name, f"{fold}{class_id}", 0, 0.4, 1, fold, class_id, name])
    write_csv(root / "metadata" / "UrbanSound8K.csv",
              ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID",
               "class"], rows)
    records = read_urbansound8k(root)
    assert [r.label for r in records] == ["car_horn", "car_horn", "dog_bark", "dog_bark"]
    assert all(r.path.parent.name == f"fold{r.fold}" for r in records)
    bank = load_feature_bank(records, FeatureSpec(), tmp_path / "cache", progress=False)
    expected_frames = FeatureSpec().n_frames_for(int(0.4 * 16000))
    assert abs(bank.n_frames(0) - expected_frames) <= 1  # resampled to 16 kHz, mono


def test_urbansound8k_errors(tmp_path):
    root = tmp_path / "us8k"
    root.mkdir()
    with pytest.raises(SoundwatchError, match="UrbanSound8K.csv is missing"):
        read_urbansound8k(root)
    write_csv(root / "metadata" / "UrbanSound8K.csv", ["slice_file_name", "fold", "class"],
              [["x.wav", "one", "dog_bark"]])
    with pytest.raises(SoundwatchError, match="'fold' must be an integer"):
        read_urbansound8k(root)
    write_csv(root / "metadata" / "UrbanSound8K.csv", ["slice_file_name", "classID"],
              [["x.wav", 1]])
    with pytest.raises(SoundwatchError, match="lacks the columns"):
        read_urbansound8k(root)


def test_folder_per_class_and_label_folder(tmp_path):
    root = tmp_path / "genres"
    write_audio(root / "jazz" / "a.wav", chirp(0.3, 8000), 8000)
    write_audio(root / "jazz" / "deeper" / "b.flac", chirp(0.3, 16000))
    write_audio(root / "rock" / "c.ogg", chirp(0.3, 44100), 44100)
    (root / "rock" / "notes.txt").write_text("not audio")
    records = read_folder_per_class(root)
    assert sorted((r.label, r.path.name) for r in records) == [
        ("jazz", "a.wav"), ("jazz", "b.flac"), ("rock", "c.ogg")]
    speech = read_label_folder(root / "rock", "speech")
    assert [r.label for r in speech] == ["speech"]
    with pytest.raises(SoundwatchError, match="no audio"):
        read_folder_per_class(tmp_path / "genres" / "rock")  # files but no label folders
    with pytest.raises(SoundwatchError, match="is a file"):
        read_folder_per_class(root / "rock" / "c.ogg")
    with pytest.raises(SoundwatchError, match="LABEL=FOLDER"):
        parse_label_folder("just/a/path")
    assert parse_label_folder("speech=data/x") == ("speech", "data/x")


def test_a_test_fold_of_data_without_folds_says_so(tmp_path):
    from soundwatch.train.recipe import DataSources, make_splits

    root = tmp_path / "mine"
    write_audio(root / "doorbell" / "a.wav", chirp(0.3, 16000))
    with pytest.raises(SoundwatchError, match="the data has no official folds .* leave "
                                              "--test-fold out"):
        make_splits(DataSources(folder_per_class=[root]), 1, 0.0, 0.0, seed=0)


def test_a_label_folder_without_audio_is_named_not_silently_left_out(tmp_path):
    """The model was trained without the label, and nothing said so."""
    root = tmp_path / "mine"
    write_audio(root / "doorbell" / "a.wav", chirp(0.3, 16000))
    (root / "kettle").mkdir(parents=True)
    (root / "kettle" / "kettle.m4v").write_text("a format it does not read")
    (root / ".thumbnails").mkdir()  # hidden folders are not labels
    with pytest.raises(SoundwatchError, match="label folder.s. kettle hold no"):
        read_folder_per_class(root)
    write_audio(root / "kettle" / "b.wav", chirp(0.3, 16000))
    assert {r.label for r in read_folder_per_class(root)} == {"doorbell", "kettle"}


def test_unreadable_audio_fails_with_the_file_name(tmp_path):
    root = tmp_path / "classes"
    write_audio(root / "beep" / "good.wav", chirp(0.3, 16000))
    bad = root / "beep" / "broken.wav"
    bad.write_bytes(b"RIFF....this is not a wav file")
    records = read_folder_per_class(root)
    with pytest.raises(SoundwatchError, match="broken.wav"):
        load_feature_bank(records, FeatureSpec(), tmp_path / "cache", progress=False)


def test_feature_cache_uses_the_shared_feature_code_and_is_keyed_by_spec(tmp_path):
    root = tmp_path / "classes"
    signal = chirp(0.6, 16000)
    write_audio(root / "beep" / "one.wav", signal, subtype="FLOAT")
    records = read_folder_per_class(root)
    cache = tmp_path / "cache"
    bank = load_feature_bank(records, FeatureSpec(), cache, progress=False)
    np.testing.assert_array_equal(bank.clip(0), compute_features(signal, FeatureSpec()))
    assert len(list(cache.glob("*.npz"))) == 1
    again = load_feature_bank(records, FeatureSpec(), cache, progress=False)
    np.testing.assert_array_equal(again.features, bank.features)
    mfcc = load_feature_bank(records, FeatureSpec(n_mfcc=13), cache, progress=False)
    assert mfcc.features.shape[1] == 13
    assert len(list(cache.glob("*.npz"))) == 2  # another spec, another cache file


def test_feature_processes_give_the_same_bank_and_name_a_broken_file(tmp_path):
    root = tmp_path / "classes"
    for i in range(5):
        write_audio(root / "beep" / f"{i}.wav", chirp(0.3 + 0.1 * i, 16000, f0_hz=200.0 * (i + 1)))
    records = read_folder_per_class(root)
    alone = load_feature_bank(records, FeatureSpec(), tmp_path / "one", progress=False)
    pooled = load_feature_bank(records, FeatureSpec(), tmp_path / "two", progress=False,
                               workers=2)
    np.testing.assert_array_equal(pooled.features, alone.features)
    np.testing.assert_array_equal(pooled.offsets, alone.offsets)
    (root / "beep" / "3.wav").write_bytes(b"RIFF....this is not a wav file")
    with pytest.raises(SoundwatchError, match="3.wav"):
        load_feature_bank(read_folder_per_class(root), FeatureSpec(), tmp_path / "three",
                          progress=False, workers=2)


def test_splits_keep_test_fold_out_and_groups_together(esc50_root, tmp_path):
    speech = tmp_path / "speech"
    for i in range(10):
        write_audio(speech / f"s{i}.wav", chirp(0.3, 16000))
    background = tmp_path / "noise"
    write_audio(background / "hum.wav", chirp(0.3, 16000))
    sources = DataSources(esc50=esc50_root, label_folders=[("speech", speech)],
                          backgrounds=[background])
    splits = make_splits(sources, test_fold=2, val_fraction=0.5, holdout_fraction=0.2,
                         seed=0)
    assert splits.labels == ["dog", "rooster", "speech"]
    assert {r.fold for r in splits.test} == {2}
    assert all(r.fold != 2 for r in splits.train + splits.validation)
    train_groups = {r.group for r in splits.train}
    assert not train_groups & {r.group for r in splits.validation}
    assert len(splits.holdout) == 2 and all(r.label == "speech" for r in splits.holdout)
    assert not {r.path for r in splits.holdout} & {r.path for r in splits.train}
    assert [r.path.name for r in splits.backgrounds] == ["hum.wav"]
    assert read_background_folder(background)[0].label == ""
    with pytest.raises(SoundwatchError, match="folds"):
        make_splits(sources, test_fold=7, val_fraction=0.1, holdout_fraction=0.1, seed=0)


def test_split_groups_takes_whole_groups_per_label(esc50_root):
    records = read_esc50(esc50_root)
    kept, taken = split_groups(records, 0.5, seed=3)
    assert {r.label for r in taken} == {"dog", "rooster"}
    assert not {r.group for r in kept} & {r.group for r in taken}
    assert split_groups(records, 0.0, seed=3) == (records, [])


def test_feature_cache_survives_a_fresh_copy_but_not_new_audio(tmp_path):
    """The key is the files' content: a dataset copied anew (new modification times, as a
    re-provisioned ../shared gets) keeps its cache; changed audio does not."""
    import os

    from soundwatch.train.feature_cache import cache_key

    root = tmp_path / "classes"
    write_audio(root / "beep" / "one.wav", chirp(0.6, 16000), subtype="FLOAT")
    records = read_folder_per_class(root)
    before = cache_key(records, FeatureSpec())
    path = root / "beep" / "one.wav"
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    assert cache_key(records, FeatureSpec()) == before
    write_audio(path, 0.5 * chirp(0.6, 16000), subtype="FLOAT")
    assert cache_key(records, FeatureSpec()) != before
