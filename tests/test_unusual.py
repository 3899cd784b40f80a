"""Unusual sounds: a profile of the place's normal sound (the shipped model's embedding),
an `unusual` event for a new sound no label explains, adaptation, reset, a corrupt file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

from soundwatch.cli import main
from soundwatch.detect import DetectorSettings
from soundwatch.errors import SoundwatchError
from soundwatch.model import Classifier, default_model_path
from soundwatch.scoring import detect_stream
from soundwatch.unusual.apply import WithUnusual, open_profile, with_unusual
from soundwatch.unusual.profile import FILE_NAME, Profile
from soundwatch.unusual.settings import UnusualSettings

RATE = 16000
HOP_S = 0.25
# A profile that warms up in 40 s of audio (20 windows, one in 2 s on average): the
# defaults (one window in 15 s, 40 windows) behave the same, 7.5 times slower.
FAST = UnusualSettings(add_every_s=2.0, warmup_windows=20)
NO_WARMUP = DetectorSettings(warmup_s=0.0)


@pytest.fixture(scope="module")
def classifier():
    return Classifier(default_model_path())


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SOUNDWATCH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SOUNDWATCH_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def noise(seconds: float, seed: int = 1, level: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (level * rng.standard_normal(int(seconds * RATE))).astype(np.float32)


def hum(seconds: float) -> np.ndarray:
    """A 120 Hz hum with harmonics (a new appliance): no label of the model reaches 0.5."""
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.1 * sum(np.sin(2 * np.pi * 120 * h * t) / h for h in range(1, 8))
            ).astype(np.float32)


def place(stream: np.ndarray, sound: np.ndarray, at_s: float) -> None:
    start = int(at_s * RATE)
    stream[start:start + len(sound)] += sound


def events_of(stream, classifier, settings=FAST, profile_path=None):
    wrapped = with_unusual(classifier, settings, NO_WARMUP, HOP_S, profile_path, seed=0)
    assert isinstance(wrapped, WithUnusual) and wrapped.labels[-1] == "unusual"
    _, events = detect_stream(stream, wrapped, NO_WARMUP)
    return wrapped, events


def test_a_new_sound_after_steady_noise_is_one_unusual_event_at_its_time(classifier):
    stream = noise(75.0)
    place(stream, hum(3.0), 60.0)
    wrapped, events = events_of(stream, classifier)
    unusual = [e for e in events if e.label == "unusual"]
    assert len(unusual) == 1, [(e.label, e.start_s) for e in events]
    # The event spans the windows that hold the hum (a window is 0.975 s long).
    assert 59.0 <= unusual[0].start_s <= 60.0 and 63.0 <= unusual[0].end_s <= 64.5
    assert wrapped.warm and 20 <= wrapped.profile.size <= 60


def test_nothing_is_unusual_during_warm_up(classifier):
    stream = noise(40.0)
    place(stream, hum(3.0), 10.0)  # the profile holds ~5 windows by then
    wrapped, events = events_of(stream, classifier)
    assert [e.label for e in events if e.label == "unusual"] == []


def test_a_sound_a_label_explains_is_not_unusual(classifier):
    stream = noise(75.0)
    t = np.arange(3 * RATE) / RATE
    place(stream, (0.2 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), 60.0)
    _, events = events_of(stream, classifier)
    labels = {e.label for e in events}
    assert "beep" in labels and "unusual" not in labels


def test_a_recurring_new_sound_stops_being_unusual(classifier):
    """The hum comes back every 10 s: its windows join the profile, and after about
    k = 5 of its windows have (five or six times, 15-18 s of hum) it is normal."""
    stream = noise(260.0)
    onsets = [60.0 + 10 * i for i in range(20)]
    for onset in onsets:
        place(stream, hum(3.0), onset)
    _, events = events_of(stream, classifier)
    unusual = [e for e in events if e.label == "unusual"]
    assert unusual and unusual[0].start_s < 60.5
    assert max(e.start_s for e in unusual) < 140.0, [round(e.start_s) for e in unusual]


def test_the_profile_is_saved_reloaded_and_bounded(classifier, tmp_path):
    path = tmp_path / FILE_NAME
    settings = UnusualSettings(add_every_s=0.5, warmup_windows=20, max_windows=50,
                               save_every_s=5.0)
    wrapped, _ = events_of(noise(60.0), classifier, settings, path)
    wrapped.close()
    assert wrapped.profile.size == 50 and wrapped.profile.windows_added > 50
    assert path.stat().st_size < 50 * 1024 * 2 + 10_000  # float16, bounded by max_windows
    again = open_profile(path, settings, classifier.embedding_version, 1024)
    assert again.size == 50 and again.profile_id == wrapped.profile.profile_id
    np.testing.assert_allclose(again.embedding, wrapped.profile.embedding, atol=2e-3)
    # A profile already warm finds the hum at once in a new run (no second warm-up).
    stream = noise(10.0, seed=5)
    place(stream, hum(3.0), 5.0)
    _, events = events_of(stream, classifier, settings, path)
    assert [e.label for e in events if e.label == "unusual"] == ["unusual"]


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([*map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_status_and_reset_and_a_running_listener_adopts_the_reset(
        classifier, data_dir, capsys):
    code, out, _ = run(capsys, "unusual", "status", "--json")
    assert code == 0 and json.loads(out)["windows"] == 0 and not json.loads(out)["warm"]
    path = data_dir / FILE_NAME
    wrapped, _ = events_of(noise(60.0), classifier, FAST, path)
    wrapped.save()
    code, out, _ = run(capsys, "unusual", "status", "--json")
    status = json.loads(out)
    assert code == 0 and status["windows"] == wrapped.profile.size >= 20
    assert status["model_version"] == classifier.embedding_version
    code, out, _ = run(capsys, "unusual", "status", "--config", _config(data_dir))
    assert code == 0 and "warm: unusual sounds are found" in out
    code, out, _ = run(capsys, "unusual", "reset")
    assert code == 0 and "removed" in out and not path.exists()
    wrapped.save()  # the listener's next save sees the reset and starts again
    assert wrapped.profile.size == 0 and not wrapped.warm
    assert Profile.load(path, 100, 5).size == 0


def test_status_says_when_unusual_sounds_are_off(data_dir, capsys):
    """With [unusual] enabled = false it said "unusual sounds are found once it holds 40
    windows" (helper-46); only --json told."""
    config = data_dir.parent / "off.toml"
    config.write_text("[unusual]\nenabled = false\n")
    code, out, _ = run(capsys, "unusual", "status", "--config", config)
    assert code == 0 and out.startswith("unusual sounds are off: [unusual] enabled = false")
    assert str(config) in out and "found once" not in out


def _config(data_dir):
    path = data_dir.parent / "config.toml"
    path.write_text("[unusual]\nwarmup_windows = 20\n")
    return path


def test_a_corrupt_profile_is_named_kept_aside_and_a_new_one_learnt(
        classifier, data_dir, capsys, caplog):
    data_dir.mkdir(parents=True)
    path = data_dir / FILE_NAME
    path.write_bytes(b"PK\x03\x04 not a profile")
    sounds = data_dir / "sounds.json"
    sounds.write_text('{"format": "soundwatch-sounds", "version": 1, "sounds": []}')
    code, _, err = run(capsys, "unusual", "status")
    assert code == 2 and FILE_NAME in err and "soundwatch unusual reset" in err
    assert path.read_bytes() == b"PK\x03\x04 not a profile"  # status never changes it
    # a file that is no archive at all: no advice from numpy to load it unsafely
    other = data_dir / "other.npz"
    other.write_text("some text")
    with pytest.raises(SoundwatchError) as caught:
        Profile.load(other, 8192, 5)
    assert "damaged or another kind of file. Reset it" in str(caught.value)
    assert "pickle" not in str(caught.value) and ".." not in str(caught.value)
    wrapped, _ = events_of(noise(45.0), classifier, FAST, path)
    assert "cannot read the unusual-sound profile" in caplog.text
    aside = list(data_dir.glob(FILE_NAME + ".unreadable-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == b"PK\x03\x04 not a profile"
    assert wrapped.warm  # learnt again from this stream
    wrapped.close()
    assert Profile.load(path, 8192, 5).size == wrapped.profile.size
    assert sounds.read_text().startswith('{"format": "soundwatch-sounds"')


def test_listen_replaying_a_file_makes_and_stores_unusual_events(data_dir, tmp_path, capsys):
    """The monitor's path: `listen --file` with a fast-learning [unusual] profile (kept in
    memory for a recording); `unusual` is watched, stored and listed like any label."""
    stream = noise(75.0)
    place(stream, hum(3.0), 60.0)
    wav = tmp_path / "room.wav"
    soundfile.write(str(wav), stream, RATE)
    config = tmp_path / "config.toml"
    config.write_text("[unusual]\nadd_every_s = 2.0\nwarmup_windows = 20\n")
    code, out, err = run(capsys, "listen", "--headless", "--file", wav, "--fast", "--json",
                         "--status-interval", "0", "--no-clips", "--watch", "unusual",
                         "--config", config)
    assert code == 0, err
    heard = [json.loads(line) for line in out.splitlines()]
    heard = [e for e in heard if e.get("type") == "event"]
    assert [e["label"] for e in heard] == ["unusual"], out
    assert 59.0 <= heard[0]["start_s"] <= 60.0
    code, out, _ = run(capsys, "events", "list", "--json")
    assert [json.loads(line)["label"] for line in out.splitlines()] == ["unusual"]
    assert not (data_dir / FILE_NAME).exists()  # a recording does not teach the place


def test_unusual_cannot_name_a_sound_and_settings_are_checked(data_dir, tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text("[unusual]\ndistance_ratio = 0.5\n")
    code, _, err = run(capsys, "unusual", "status", "--config", config)
    assert code == 2 and "[unusual] distance_ratio must be in (1, 1000]" in err
    wav = tmp_path / "x.wav"
    soundfile.write(str(wav), hum(1.0), RATE)
    code, _, err = run(capsys, "learn", "Unusual", wav, wav, wav)
    assert code == 2 and "'Unusual' is already a label" in err


def test_the_wrapper_keeps_the_models_attributes(classifier, tmp_path):
    wrapped = with_unusual(classifier, FAST, NO_WARMUP, HOP_S, tmp_path / FILE_NAME)
    assert wrapped.path == classifier.path and wrapped.profile_path == tmp_path / FILE_NAME
    assert wrapped.metadata is classifier.metadata and wrapped.has_embedding


def test_a_profile_of_identical_windows_still_finds_a_new_one():
    """Digital silence gives identical embeddings: they are each other's neighbours (at
    distance 0), and the typical distance is floored, so a new sound stands out."""
    profile = Profile(8, "v", max_windows=100, neighbours=5, seed=0)
    profile.add(np.ones((50, 8)))
    assert profile.ratio(np.ones((1, 8)))[0] < 0.1
    assert profile.ratio(np.eye(8)[:1])[0] > 10.0
    profile.add(np.eye(8)[:1])
    assert profile.size == 51 and profile.windows_added == 51
