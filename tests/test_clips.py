"""ClipWriter: FLAC clips from a real ring, disk budget, and failures that never stop it."""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import soundfile

from soundwatch.audio.ring import RingBuffer
from soundwatch.clips import ClipWriter, clip_name
from soundwatch.detect import Event

RATE = 16000
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def event(start_s: float, end_s: float, event_id: int = 1, label: str = "dog") -> Event:
    return Event(label, int(start_s * RATE), int(end_s * RATE), 0.9, 0.8, RATE, event_id)


def ramp_ring(seconds: float) -> RingBuffer:
    """A ring holding a ramp, so every sample says where it came from."""
    ring = RingBuffer(int(30 * RATE))
    ring.write((np.arange(int(seconds * RATE)) / (60 * RATE)).astype(np.float32))
    return ring


def test_clip_has_pre_and_post_roll_and_waits_for_the_post_roll(tmp_path):
    writer = ClipWriter(tmp_path, pre_roll_s=0.5, post_roll_s=1.0)
    ring = ramp_ring(3.0)
    writer.request(event(1.0, 2.5), row_id=7, wall_start=T0)
    assert writer.poll(ring) == []  # 2.5 s + 1.0 s post-roll not captured yet
    assert writer.pending == 1
    ring.write(np.zeros(int(0.6 * RATE), np.float32))
    [result] = writer.poll(ring)
    assert result.row_id == 7 and result.error is None
    assert result.path.name == "20240501T120000.000Z_dog.flac"
    audio, rate = soundfile.read(result.path, dtype="float32")
    assert rate == RATE and len(audio) == int(3.0 * RATE)  # 0.5 + 1.5 + 1.0 s
    # the first sample is the ramp at 0.5 s (16-bit FLAC: ~3e-5 resolution)
    assert audio[0] == pytest.approx(0.5 / 60, abs=1e-4)
    assert writer.pending == 0 and writer.written == 1


def test_final_poll_writes_with_whatever_post_roll_exists(tmp_path):
    writer = ClipWriter(tmp_path, pre_roll_s=0.5, post_roll_s=2.0)
    ring = ramp_ring(3.0)
    writer.request(event(2.0, 2.8), wall_start=T0)
    [result] = writer.poll(ring, final=True)
    assert soundfile.info(str(result.path)).frames == int(1.5 * RATE)  # 1.5 .. 3.0 s


def test_max_files_deletes_the_oldest_first(tmp_path):
    writer = ClipWriter(tmp_path, pre_roll_s=0, post_roll_s=0, max_files=3)
    ring = ramp_ring(10.0)
    paths = []
    for i in range(5):
        result = writer.write_clip(event(i, i + 0.5, i), ring.read_range(i * RATE,
                                                                         i * RATE + 8000)[0],
                                   T0 + timedelta(seconds=i))
        os.utime(result.path, (1000 + i, 1000 + i))  # distinct ages even on coarse clocks
        paths.append(result.path)
        if i == 3:
            assert result.deleted == [paths[0]]
    remaining = sorted(p.name for p in tmp_path.glob("*.flac"))
    assert remaining == sorted(p.name for p in paths[2:])


def test_max_mb_keeps_the_folder_within_budget(tmp_path):
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, 2 * RATE).astype(np.float32)
    one_clip_bytes = None
    writer = ClipWriter(tmp_path / "probe", pre_roll_s=0, post_roll_s=0)
    one_clip_bytes = writer.write_clip(event(0, 2), noise, T0).path.stat().st_size
    budget_mb = 2.5 * one_clip_bytes / 1e6
    writer = ClipWriter(tmp_path / "clips", pre_roll_s=0, post_roll_s=0, max_mb=budget_mb)
    for i in range(6):
        result = writer.write_clip(event(i, i + 2, i), noise, T0 + timedelta(seconds=i))
        os.utime(result.path, (1000 + i, 1000 + i))
    sizes = [p.stat().st_size for p in (tmp_path / "clips").glob("*.flac")]
    assert len(sizes) == 2 and sum(sizes) <= budget_mb * 1e6
    assert (tmp_path / "clips" / clip_name(T0 + timedelta(seconds=5), event(5, 7, 5))).exists()


def test_foreign_files_are_never_deleted(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "holiday.flac").write_bytes(b"x" * 1000)
    writer = ClipWriter(tmp_path, pre_roll_s=0, post_roll_s=0, max_files=1)
    for i in range(3):
        writer.write_clip(event(i, i + 1, i), np.zeros(RATE, np.float32),
                          T0 + timedelta(seconds=i))
    assert (tmp_path / "notes.txt").exists() and (tmp_path / "holiday.flac").exists()
    assert len(list(tmp_path.glob("2024*.flac"))) == 1
    # an older soundwatch's clip is still one of ours, for the budget
    (tmp_path / "20240501T115959.000Z_dog_e7.flac").write_bytes(b"x" * 10)
    writer.write_clip(event(9, 10, 9), np.zeros(RATE, np.float32), T0 + timedelta(seconds=9))
    assert not (tmp_path / "20240501T115959.000Z_dog_e7.flac").exists()
    assert (tmp_path / "notes.txt").exists() and (tmp_path / "holiday.flac").exists()


def test_unwritable_folder_warns_once_and_goes_on(tmp_path, caplog):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    caplog.set_level(logging.WARNING, logger="soundwatch.clips")
    writer = ClipWriter(blocker / "clips")
    ring = ramp_ring(5.0)
    for i in range(3):
        writer.request(event(i, i + 0.5, i), wall_start=T0)
    results = writer.poll(ring, final=True)
    assert [r.path for r in results] == [None, None, None]
    assert all(r.error for r in results)
    assert writer.failed == 3 and writer.written == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert 1 <= len(warnings) <= 2 and "clip" in warnings[0].getMessage()


def test_low_disk_space_skips_clips_with_a_warning(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="soundwatch.clips")
    writer = ClipWriter(tmp_path, min_free_mb=1e12)  # more than any disk has free
    result = writer.write_clip(event(0, 1), np.zeros(RATE, np.float32), T0)
    assert result.path is None and "disk almost full" in result.error
    assert list(tmp_path.iterdir()) == []
    assert any("disk almost full" in r.getMessage() for r in caplog.records)


def test_clip_names_are_safe_and_sortable():
    name = clip_name(T0 + timedelta(milliseconds=1500), event(0, 1, 42, "Door / wood knock"))
    assert name == "20240501T120001.500Z_Door-wood-knock.flac"


def test_a_read_only_folder_is_said_to_be_read_only_not_full(tmp_path, monkeypatch):
    """A read-only mount with little room was reported as "disk almost full"; a roomy one
    as libsndfile's "System error."."""
    import soundwatch.clips as clips

    real_access = os.access
    monkeypatch.setattr(clips.os, "access", lambda path, mode: False if mode == os.W_OK
                        and str(path) == str(tmp_path) else real_access(path, mode))
    writer = ClipWriter(tmp_path, min_free_mb=1e12)  # and too little room as well
    result = writer.write_clip(event(0, 1), np.zeros(RATE, np.float32), T0)
    assert result.path is None and "is not writable" in result.error
    assert "full" not in result.error


def test_a_clip_folder_deleted_while_listening_is_made_again(tmp_path, caplog):
    """A clean-up removed the folder: every later clip failed until a restart."""
    import shutil

    folder = tmp_path / "clips"
    writer = ClipWriter(folder, pre_roll_s=0, post_roll_s=0)
    ring = ramp_ring(4.0)
    assert writer.write_clip(event(0, 0.5), ring.read_range(0, 8000)[0], T0).error is None
    shutil.rmtree(folder)
    with caplog.at_level(logging.WARNING):
        result = writer.write_clip(event(1, 1.5, 2), ring.read_range(RATE, RATE + 8000)[0],
                                   T0 + timedelta(seconds=1))
    assert result.error is None and result.path.is_file()
    assert "was gone: made again" in caplog.text
    assert writer.written == 2 and writer.failed == 0


def test_a_clip_folder_that_is_a_file_is_refused_at_start(tmp_path):
    """An unattended run started, then every clip failed."""
    from types import SimpleNamespace

    from soundwatch.clips import clip_writer_for
    from soundwatch.config import ClipSettings, Settings
    from soundwatch.errors import SoundwatchError

    recording = tmp_path / "long.wav"
    recording.write_bytes(b"RIFF")
    settings = Settings(clips=ClipSettings(enabled=True, directory=str(recording)))
    classifier = SimpleNamespace(sample_rate_hz=RATE)
    with pytest.raises(SoundwatchError, match="clip folder .*long.wav is a file, not a folder"):
        clip_writer_for(settings, classifier)
