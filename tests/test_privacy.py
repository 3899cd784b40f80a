"""Speech kept out of saved audio: a test model whose ``speech`` score is driven by a 3 kHz
marker tone, real FLAC clips written by the monitor, a real SQLite store."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile
from model_factory import make_test_model, noise_burst, silence, tone
from old_database import rewind_schema

from soundwatch.alerts.router import AlertPolicy, AlertRouter, ChannelRoute
from soundwatch.alerts.settings import AlertSettings
from soundwatch.audio.files import FileSource
from soundwatch.clips import ClipWriter, clip_writer_for
from soundwatch.config import Settings, load_settings
from soundwatch.console import ConsolePrinter
from soundwatch.detect import DetectorSettings
from soundwatch.errors import SoundwatchError
from soundwatch.model import Classifier
from soundwatch.monitor import Monitor
from soundwatch.privacy import PrivacySettings, SpeechGuard
from soundwatch.store import SCHEMA_VERSION, EventStore

RATE = 16000
PRE_ROLL_S = 2.0
POST_ROLL_S = 0.5
# speech marker (3 kHz) at 1.0-1.5 s, in the pre-roll of a 1 kHz event at 2.6-4.1 s; a
# second 1 kHz event at 7.0-8.5 s, far from any speech
MARKER_S = (1.0, 1.5)
NEAR_EVENT_S = (2.6, 4.1)
FAR_EVENT_S = (7.0, 8.5)
LENGTH_S = 10.0


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    path = make_test_model(tmp_path_factory.mktemp("model") / "speech.onnx",
                           bands={"tone_1k": (900.0, 1100.0), "speech": (2800.0, 3200.0)})
    return Classifier(path)


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    audio = silence(LENGTH_S, RATE, noise_floor=3e-3)
    for (start, end), freq in ((MARKER_S, 3000.0), (NEAR_EVENT_S, 1000.0),
                               (FAR_EVENT_S, 1000.0)):
        audio[int(start * RATE):int(end * RATE)] += tone(freq, end - start, RATE)
    path = tmp_path_factory.mktemp("audio") / "stream.wav"
    soundfile.write(str(path), audio, RATE, subtype="FLOAT")
    return path, audio


def run(classifier, stream_path, tmp_path, mode: str):
    settings = Settings(privacy=PrivacySettings(speech=mode, margin_s=0.5))
    guard = SpeechGuard.for_classifier(settings.privacy, classifier)
    clips = ClipWriter(tmp_path / "clips", pre_roll_s=PRE_ROLL_S, post_roll_s=POST_ROLL_S,
                       min_free_mb=0, speech_guard=guard)
    store = EventStore(tmp_path / "events.sqlite")
    alerts = AlertRouter(AlertPolicy(AlertSettings(), classifier.labels), "kitchen",
                         [ChannelRoute("webhook", feed=True)])
    monitor = Monitor(FileSource(stream_path, RATE, paced=False), classifier,
                      DetectorSettings(watch=("tone_1k",), warmup_s=0.0), store=store,
                      clips=clips, alerts=alerts)
    monitor.start()
    assert monitor.wait(60) and monitor.error is None
    said = io.StringIO()
    ConsolePrinter(monitor, as_json=False, stream=said).summary(1.0, store)
    run.summary = said.getvalue()  # what `listen` prints at the end
    rows = sorted(store.recent_events(limit=None), key=lambda e: e.start_s)
    ended = [r["payload"] for r in store.outbox_pending("webhook") if r["kind"] == "event"]
    store.close()
    assert [e.label for e in rows] == ["tone_1k", "tone_1k"]
    # An alert leaves before its clip's audio is heard for speech: it names the clip only
    # where it will be written whatever the guard finds.
    promised = [p["clip"] for p in sorted(ended, key=lambda p: p["start_s"])]
    if mode == "drop_clip":
        assert promised == [None, None]
    else:
        assert promised == [r.clip_path for r in rows]
    return rows


def clip_of(row, audio):
    """(saved clip, the input samples it was cut from, its first stream sample)."""
    saved, rate = soundfile.read(row.clip_path, dtype="float32")
    assert rate == RATE
    first = max(0, int(round(row.start_s * RATE)) - int(PRE_ROLL_S * RATE))
    return saved, audio[first:first + len(saved)], first


def longest_silence(x: np.ndarray) -> tuple[int, int]:
    """[start, end) of the longest run of exact zeros (the noise floor is never a run)."""
    edges = np.diff(np.concatenate([[0], (x == 0.0).astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    longest = int(np.argmax(ends - starts))
    return int(starts[longest]), int(ends[longest])


def pcm16(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, -1, 1) * 32767) / 32767


def test_mute_silences_the_speech_and_keeps_the_rest_exactly(classifier, stream, tmp_path):
    path, audio = stream
    near, far = run(classifier, path, tmp_path, "mute")
    saved, original, first = clip_of(near, audio)
    assert first < MARKER_S[0] * RATE  # the pre-roll reaches back over the speech
    muted = longest_silence(saved)
    # one stretch, holding all of the marker, ending before the event's own tone
    assert muted[0] <= MARKER_S[0] * RATE - first
    assert muted[1] >= MARKER_S[1] * RATE - first
    assert muted[1] < NEAR_EVENT_S[0] * RATE - first
    assert np.count_nonzero(saved[muted[0]:muted[1]]) == 0
    # the rest is the input, to 16-bit FLAC's exactness (fades: 5 ms inside the stretch)
    fade = int(0.005 * RATE) + 1
    outside = np.ones(len(saved), bool)
    outside[max(0, muted[0] - fade):muted[1] + fade] = False
    assert np.max(np.abs(saved[outside] - pcm16(original[outside]))) <= 1.01 / 32767
    assert near.speech_muted_s == pytest.approx((muted[1] - muted[0] + 2 * fade) / RATE,
                                                abs=2 * fade / RATE)
    assert near.clip_withheld is None
    # the far event's clip heard no speech: nothing muted, all intact
    saved, original, _ = clip_of(far, audio)
    assert far.speech_muted_s == 0.0
    assert np.max(np.abs(saved - pcm16(original))) <= 1.01 / 32767


def test_drop_clip_writes_nothing_for_a_clip_with_speech(classifier, stream, tmp_path):
    path, audio = stream
    near, far = run(classifier, path, tmp_path, "drop_clip")
    assert near.clip_path is None and near.clip_withheld == "speech"
    assert near.speech_muted_s > MARKER_S[1] - MARKER_S[0]
    assert [p.name for p in (tmp_path / "clips").iterdir()] == [far.clip_path.split("/")[-1]]
    assert far.clip_withheld is None and far.speech_muted_s == 0.0
    # the summary says why two events gave one clip (helper-51: "12 written", no word)
    assert "clips: 1 written to" in run.summary
    assert "1 not written: speech, as [privacy] speech asks" in run.summary


def test_keep_writes_everything(classifier, stream, tmp_path):
    path, audio = stream
    for row in run(classifier, path, tmp_path, "keep"):
        saved, original, _ = clip_of(row, audio)
        assert np.max(np.abs(saved - pcm16(original))) <= 1.01 / 32767
        assert row.speech_muted_s is None and row.clip_withheld is None


def test_audio_no_window_has_heard_is_muted_at_the_end_of_a_stream():
    guard = SpeechGuard(PrivacySettings(margin_s=0.5), speech_index=0, window_samples=RATE,
                        sample_rate_hz=RATE)
    guard.observe(np.zeros((2, 1), np.float32), [RATE, 2 * RATE])
    samples = noise_burst(3.0, RATE)
    assert not guard.ready(2 * RATE)  # windows after the clip could still hear speech
    verdict = guard.apply(samples, 0, final=True)
    assert verdict.muted_s == pytest.approx(1.0)
    assert np.all(verdict.audio[2 * RATE + 100:] == 0) and np.array_equal(
        verdict.audio[:2 * RATE], samples[:2 * RATE])
    guard.observe(np.ones((1, 1), np.float32), [3 * RATE])  # speech: [2 - 0.5, 3 + 0.5) s
    assert guard.spans(0, 4 * RATE) == [(int(1.5 * RATE), int(3.5 * RATE))]


def test_a_clip_that_would_be_all_silence_is_withheld_not_written():
    guard = SpeechGuard(PrivacySettings(margin_s=0.5), speech_index=0, window_samples=RATE,
                        sample_rate_hz=RATE)
    guard.observe(np.ones((3, 1), np.float32), [RATE, 2 * RATE, 3 * RATE])  # all speech
    verdict = guard.apply(noise_burst(2.0, RATE), int(0.5 * RATE))
    assert verdict.audio is None and verdict.withheld == "speech"
    assert verdict.muted_s == pytest.approx(2.0)
    partly = guard.apply(noise_burst(5.0, RATE), 0)  # 3.5 s of 5 s muted: written
    assert partly.audio is not None and partly.withheld is None


@pytest.mark.parametrize("text, problem", [
    ('[privacy]\nspeech = "silence"\n', "speech must be one of 'mute', 'drop_clip', 'keep'"),
    ("[privacy]\nthreshold = 1.5\n", "threshold must be a score in (0, 1)"),
    ("[privacy]\nmargin_s = -1\n", "margin_s must be in [0, 5]"),
    ("[privacy]\nmargin = 1\n", "unknown key 'margin' in [privacy] (did you mean 'margin_s'?)"),
])
def test_bad_privacy_settings_are_refused_with_the_fix(tmp_path, text, problem):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(SoundwatchError) as error:
        load_settings(path)
    assert problem in str(error.value)


def test_a_model_without_a_speech_label_cannot_mute(tmp_path):
    plain = Classifier(make_test_model(tmp_path / "plain.onnx"))
    settings = Settings()
    assert settings.privacy.speech == "mute"  # the default
    with pytest.raises(SoundwatchError, match=r"no 'speech' label.*speech = \"keep\""):
        clip_writer_for(settings, plain)
    kept = Settings(privacy=PrivacySettings(speech="keep"))
    assert clip_writer_for(kept, plain).speech_guard is None


def test_a_version_3_file_gains_the_privacy_columns_and_keeps_every_row(tmp_path):
    path = tmp_path / "old.sqlite"
    with EventStore(path) as store:
        session = store.start_session("mic", "m.onnx", RATE)
        from soundwatch.detect import Event

        for event_id in (1, 2):
            store.add_event(Event("dog", 0, RATE, 0.9, 0.8, RATE, event_id, snr_db=9.0),
                            session)
    rewind_schema(path, 3, "ALTER TABLE events DROP COLUMN speech_muted_s",
                  "ALTER TABLE events DROP COLUMN clip_withheld")
    with EventStore(path, read_only=True) as store:  # not upgraded, still read
        assert [e.speech_muted_s for e in store.recent_events()] == [None, None]
    with EventStore(path) as store:
        assert store.schema_version() == SCHEMA_VERSION == 7
        rows = store.recent_events(newest_first=False)
        assert [(e.id, e.snr_db, e.speech_muted_s) for e in rows] == [(1, 9.0, None),
                                                                     (2, 9.0, None)]
        store.set_clip_privacy(rows[0].id, 1.25, None)
        store.set_clip_privacy(rows[1].id, 2.0, "speech")
        rows = store.recent_events(newest_first=False)
        assert [(e.speech_muted_s, e.clip_withheld) for e in rows] == [(1.25, None),
                                                                       (2.0, "speech")]
        exported = io.StringIO()
        store.export(None, "jsonl", stream=exported)
        lines = [json.loads(line) for line in exported.getvalue().splitlines()]
        assert [(e["speech_muted_s"], e["clip_withheld"]) for e in lines] == [
            (1.25, None), (2.0, "speech")]


def test_listen_with_clips_and_a_model_that_cannot_hear_speech_is_a_clear_error(
        tmp_path, capsys, monkeypatch):
    from soundwatch.cli import main

    monkeypatch.setenv("SOUNDWATCH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SOUNDWATCH_DATA_DIR", str(tmp_path / "data"))
    plain = make_test_model(tmp_path / "plain.onnx")
    audio = tmp_path / "a.wav"
    soundfile.write(str(audio), silence(1.0, RATE), RATE)
    code = main(["listen", "--headless", "--file", str(audio), "--model", str(plain),
                 "--clips"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "no 'speech' label" in err and 'speech = "keep"' in err
    assert not (tmp_path / "data" / "events.sqlite").exists()  # refused before any write


def test_clips_that_wait_for_the_speech_guard_must_still_fit_the_ring(tmp_path):
    text = "[clips]\nenabled = true\npre_roll_s = 9.0\npost_roll_s = 9.0\n" \
           "[detection]\nmax_duration_s = 11.5\n"
    path = tmp_path / "config.toml"
    path.write_text(text + '[privacy]\nspeech = "keep"\n')
    assert load_settings(path).clips.pre_roll_s == 9.0  # 29.5 s fit the 30 s ring
    path.write_text(text)  # mute: + the margin + 1 s for the window
    with pytest.raises(SoundwatchError, match=r"waiting for \[privacy\]\) must fit"):
        load_settings(path)
