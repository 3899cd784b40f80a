"""Teaching from the window with the place's own audio, in a real Qt window (offscreen)
over the real engine and the shipped model: a stretch chosen on the live spectrogram is
the engine's audio over that range, sample-exact, and a stretch older than the audio the
engine holds is refused; learning while listening uses the room's recent audio without
the examples as negatives, so a hum in the room that fires a sound learnt from the
generic negatives alone does not fire the one learnt in the window."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile  # noqa: E402
from gui_helpers import GuiHarness  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from test_user_sounds import RATE, chime, noise, place, steady_tone  # noqa: E402

from soundwatch.audio.dc_blocker import DcBlocker  # noqa: E402
from soundwatch.audio.files import END_SILENCE_S  # noqa: E402
from soundwatch.detect import DetectorSettings  # noqa: E402
from soundwatch.features import compute_features  # noqa: E402
from soundwatch.gui.session import SourceChoice  # noqa: E402
from soundwatch.model import Classifier, shipped_model_path  # noqa: E402
from soundwatch.scoring import detect_stream  # noqa: E402
from soundwatch.sounds.apply import WithUserSounds  # noqa: E402
from soundwatch.sounds.library import read_sounds  # noqa: E402
from soundwatch.sounds.place import PLACE_MARGIN_S  # noqa: E402

pytest.importorskip("pytestqt")

CHIMES_AT_S = (7.0, 9.5, 12.0)  # in the room's recording, 1.2 s each


@pytest.fixture
def harness(qtbot, tmp_path, monkeypatch):
    h = GuiHarness(qtbot, tmp_path, monkeypatch)
    monkeypatch.setenv("SOUNDWATCH_MODEL", str(shipped_model_path()))
    yield h
    h.close_all()


def hum(seconds: float) -> np.ndarray:
    """The room's steady mains hum (120 and 240 Hz)."""
    return steady_tone(120.0, seconds, 0.05) + steady_tone(240.0, seconds, 0.03)


def room(rng: np.random.Generator, seconds: float) -> np.ndarray:
    return noise(rng, seconds, level=0.004) + hum(seconds)


def select_samples(window, start_sample: int, end_sample: int) -> tuple[int, int]:
    """Choose [start_sample, end_sample) on the (frozen) spectrogram; returns the
    stream-clock range the picker maps the region to."""
    spectrogram = window.spectrogram
    x0 = spectrogram.x_of_sample(start_sample)
    x1 = spectrogram.x_of_sample(end_sample)
    assert x0 is not None and x1 is not None
    window.stretch.set_region(x0, x1)
    return window.stretch.chosen()


def test_a_stretch_of_the_spectrogram_is_the_engines_audio_and_old_ones_are_refused(
        harness, tmp_path, qtbot):
    rng = np.random.default_rng(5)
    stream = noise(rng, 45.0, level=0.004)
    place(stream, steady_tone(1000.0, 1.0, 0.3), 5.0)  # 40 s before the end
    place(stream, chime(rng), 38.0)
    path = tmp_path / "stream.wav"
    soundfile.write(str(path), stream, RATE, subtype="FLOAT")
    window = harness.open("--spectrogram-s", "60", start=False)
    assert window.start_listening(SourceChoice(file=str(path), paced=False))
    qtbot.waitUntil(lambda: window.replays_finished == 1, timeout=240000)
    window.on_frame_tick()
    spectrogram, picker = window.spectrogram, window.stretch
    engine = window.session.last_engine
    # the file, then the second of silence a replay hears after it (END_SILENCE_S)
    assert engine.position == len(stream) + int(END_SILENCE_S * RATE)
    assert window.shown_engine()[0] is engine

    assert picker.start() and spectrogram.frozen and picker.add_button.isVisible()
    start, end = select_samples(window, int(37.8 * RATE), int(39.4 * RATE))
    # Whole columns: from the first sample of the first column's first frame to the end
    # of the last column's last frame; the region ends at the left edge of the first
    # column starting at 39.4 s, so the last column taken starts less than one before.
    hop, pool = spectrogram.spec.hop_length, spectrogram.pool
    assert 37.8 * RATE <= start < 37.8 * RATE + pool * hop and start % hop == 0
    assert 39.4 * RATE <= end - spectrogram.spec.frame_length + hop < 39.4 * RATE + pool * hop
    # The columns drawn there are the features of exactly that audio, as the model heard
    # it (through the DC blocker).
    spans = spectrogram.column_samples()
    first = int(np.flatnonzero(spans[:, 0] == start)[0])
    last = int(np.flatnonzero(spans[:, 1] == end)[0])
    heard = DcBlocker(RATE).process(stream)
    frames = compute_features(heard[start:end], spectrogram.spec)
    assert len(frames) == (last - first + 1) * pool
    expected = frames.reshape(-1, pool, frames.shape[1]).max(axis=1) * spectrogram.to_db
    drawn = spectrogram.ring.view()[first:last + 1]
    np.testing.assert_allclose(drawn, expected, atol=1e-3)

    message = picker.add()
    assert message.startswith("Added the stretch at"), message
    assert not picker.choosing and not spectrogram.frozen
    dialog = window.teach_dialog
    assert dialog is not None and dialog.isVisible() and dialog.examples.count() == 1
    example, rate = soundfile.read(str(dialog.example_paths[0]), dtype="float32")
    held, _ = engine.audio.read_range(start, end)
    assert rate == RATE and np.array_equal(example, held)
    assert np.array_equal(example, stream[start:end])  # the replayed file, sample-exact
    assert dialog.taken == [(engine, start, end)]
    # The replay has ended: its audio is still the place's, without the example (a
    # stretch taught after the end was learnt against the generic negatives alone, and
    # fired on the tap it was cut from: helper-53).
    place_audio = dialog.place_audio()
    assert place_audio.segments and place_audio.ranges[0][0] == engine.audio.oldest_position
    assert all(b <= start - PLACE_MARGIN_S * RATE or a >= end + PLACE_MARGIN_S * RATE
               for a, b in place_audio.ranges)
    assert "of the replayed file's recent audio" in dialog._place_words(place_audio)

    # The tone at 5 s is drawn (60 s shown) but older than the 30 s the engine keeps.
    assert picker.start()
    old = select_samples(window, 5 * RATE, 6 * RATE)
    assert old is not None and old[0] < engine.audio.oldest_position
    message = picker.add()
    assert "began 41 s ago, and soundwatch keeps only the last 30 s of audio" in message
    assert "choose a newer stretch" in message and picker.choosing
    assert dialog.examples.count() == 1
    # Too short, then too long: refused with the dialog's limits.
    select_samples(window, 38 * RATE, int(38.2 * RATE))
    assert "too short to learn from: drag its edges to at least 0.5 s" in picker.add()
    select_samples(window, 20 * RATE, 32 * RATE)
    assert "in at most 10 s" in picker.add()
    picker.cancel()
    assert not spectrogram.frozen and dialog.examples.count() == 1


def test_learning_while_listening_uses_the_rooms_audio_without_the_examples(
        harness, tmp_path, qtbot):
    rng = np.random.default_rng(21)
    recording = room(rng, 40.0)
    for at_s in CHIMES_AT_S:
        place(recording, chime(rng), at_s)
    path = tmp_path / "room.wav"
    soundfile.write(str(path), recording, RATE, subtype="FLOAT")
    window = harness.open(start=False)
    # A real-time replay stands in for the microphone: it is still running at Learn.
    assert window.start_listening(SourceChoice(file=str(path), paced=True))
    engine = window.session.engine
    qtbot.waitUntil(lambda: engine.position >= 15.5 * RATE, timeout=60000)
    taken = []
    for at_s in CHIMES_AT_S:
        window.on_frame_tick()
        assert window.stretch.start()
        taken.append(select_samples(window, int((at_s - 0.2) * RATE), int((at_s + 1.4) * RATE)))
        assert window.stretch.add().startswith("Added"), window.stretch.message.text()
    dialog = window.teach_dialog
    assert dialog.examples.count() == 3 and [t[1:] for t in dialog.taken] == taken
    learnt = {}
    dialog.learnt.connect(lambda label, how: learnt.update(place=dialog.place, how=how))
    dialog.name_edit.setText("chime")
    qtbot.mouseClick(dialog.learn_button, Qt.MouseButton.LeftButton)
    assert "of the replayed file's recent audio…" in dialog.status.text()
    qtbot.waitUntil(lambda: "chime" in window.session.labels
                    or "Not learnt" in dialog.status.text(), timeout=240000)
    assert "chime" in window.session.labels, dialog.status.text()

    # What reached the learner: the ring's audio up to Learn, without the examples and
    # a margin around each, in stretches of at least one model window.
    place_audio = learnt["place"]
    classifier = Classifier(shipped_model_path(), threads=1)
    margin = int(PLACE_MARGIN_S * RATE)
    assert place_audio.segments and place_audio.held_s >= 15.5
    for start, end in place_audio.ranges:
        assert end - start >= classifier.window_samples
        for example_start, example_end in taken:
            assert end <= example_start - margin or start >= example_end + margin
    for (start, end), segment in zip(place_audio.ranges, place_audio.segments, strict=True):
        assert np.array_equal(segment, recording[start:end])  # the room, as replayed
    # The chimes' cuts (6.8-13.4 s, 1 s more each side) merge; before and after is room.
    assert place_audio.ranges[0] == (0, taken[0][0] - margin)
    assert place_audio.ranges[1][0] == taken[-1][1] + margin
    sound = {s.label: s for s in read_sounds()}["chime"]
    assert sound.info["own_negative_arrays"] == len(place_audio.segments) == 2
    assert sound.info["own_negative_s"] == pytest.approx(place_audio.seconds, abs=1e-3)
    assert sound.info["own_negative_windows"] >= 20
    said = f"also learnt from {place_audio.seconds:.0f} s of the replayed file's recent audio"
    assert said in window.banner.text.text() and said in learnt["how"]

    # Behaviour: the room's hum does not fire the chime learnt in the window; a new chime
    # in the room does. (A chime learnt from the same examples against the generic
    # negatives alone fired on this hum until those negatives held synthesised tones.)
    settings = DetectorSettings(warmup_s=0.0, watch=("chime",))
    fresh_room = room(rng, 20.0)
    assert detect_stream(fresh_room, WithUserSounds(classifier, [sound]), settings)[1] == []
    with_chime = room(rng, 20.0)
    place(with_chime, chime(rng), 8.0)
    events = detect_stream(with_chime, WithUserSounds(classifier, [sound]), settings)[1]
    assert len(events) == 1 and events[0].start_s < 9.2 and events[0].end_s > 8.0, events


def test_without_listening_the_dialog_says_it_learnt_from_the_generic_negatives_only(
        harness, tmp_path, qtbot):
    rng = np.random.default_rng(8)
    paths = []
    for i in range(3):
        signal = room(rng, 2.5)
        place(signal, chime(rng), 0.4)
        paths.append(tmp_path / f"chime{i}.wav")
        soundfile.write(str(paths[-1]), signal, RATE)
    window = harness.open(start=False)
    assert not window.stretch.start()  # nothing heard: nothing to choose from
    assert "start listening" in window.stretch.message.text()
    dialog = window.open_teach_dialog()
    assert window.open_teach_dialog() is dialog  # one dialog, brought to the front
    dialog.name_edit.setText("chime")
    for path in paths:
        dialog.add_example(path)
    qtbot.mouseClick(dialog.learn_button, Qt.MouseButton.LeftButton)
    assert "the generic negatives only (nothing is listening now)" in dialog.status.text()
    qtbot.waitUntil(lambda: "chime" in window.session.labels
                    or "Not learnt" in dialog.status.text(), timeout=240000)
    assert "chime" in window.session.labels, dialog.status.text()
    assert "learnt from the generic negatives only (nothing is listening now)" \
        in window.banner.text.text()
    sound = read_sounds()[0]
    assert sound.info["own_negative_windows"] == 0 and sound.info["own_negative_s"] == 0.0
