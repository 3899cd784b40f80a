"""RingBuffer: wrap-around, exact loss counts, gaps, and a concurrent checksum stress."""

import threading
import zlib

import numpy as np

from soundwatch.audio.ring import RingBuffer


def ramp(start, n):
    return np.arange(start, start + n, dtype=np.float32)


def test_wraps_around_and_reads_contiguously():
    ring = RingBuffer(10)
    reader = ring.add_reader()
    ring.write(ramp(0, 7))
    samples, lost = reader.read()
    np.testing.assert_array_equal(samples, ramp(0, 7))
    ring.write(ramp(7, 8))  # crosses the end of the buffer
    samples, lost = reader.read()
    assert lost == 0
    assert samples.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(samples, ramp(7, 8))
    assert ring.write_position == 15


def test_reader_that_falls_behind_gets_newest_audio_and_exact_loss():
    ring = RingBuffer(10)
    reader = ring.add_reader()
    ring.write(ramp(0, 4))
    ring.write(ramp(4, 9))  # 13 written, 10 held: samples 0..2 are gone
    samples, lost = reader.read()
    assert lost == 3
    np.testing.assert_array_equal(samples, ramp(3, 10))
    assert reader.samples_lost == 3


def test_block_larger_than_capacity_keeps_newest():
    ring = RingBuffer(5)
    reader = ring.add_reader()
    ring.write(ramp(0, 12))
    samples, lost = reader.read()
    assert lost == 7
    np.testing.assert_array_equal(samples, ramp(7, 5))


def test_max_samples_and_independent_readers():
    ring = RingBuffer(16)
    a, b = ring.add_reader(), ring.add_reader()
    ring.write(ramp(0, 10))
    first, _ = a.read(max_samples=4)
    np.testing.assert_array_equal(first, ramp(0, 4))
    rest, _ = a.read()
    np.testing.assert_array_equal(rest, ramp(4, 6))
    all_b, _ = b.read()
    np.testing.assert_array_equal(all_b, ramp(0, 10))
    assert ring.slowest_reader_lag() == 0


def test_gap_is_skipped_and_counted_as_lost():
    ring = RingBuffer(100)
    reader = ring.add_reader()
    ring.write(ramp(0, 5))
    ring.write_gap(20)
    ring.write(ramp(5, 5))
    before, lost = reader.read()
    np.testing.assert_array_equal(before, ramp(0, 5))
    assert lost == 0
    after, lost = reader.read()
    assert lost == 20
    np.testing.assert_array_equal(after, ramp(5, 5))
    assert reader.position == 30


def test_read_range_clips_to_what_is_held():
    ring = RingBuffer(10)
    ring.write(ramp(0, 15))
    samples, first = ring.read_range(0, 8)
    assert first == 5
    np.testing.assert_array_equal(samples, ramp(5, 3))


def test_concurrent_writer_and_readers_deliver_every_sample_once():
    ring = RingBuffer(4096)
    n_blocks, block = 2000, 97
    rng = np.random.default_rng(0)
    data = rng.standard_normal(n_blocks * block).astype(np.float32)
    readers = [ring.add_reader() for _ in range(2)]
    received = [[] for _ in readers]
    lost_totals = [0 for _ in readers]
    done = threading.Event()

    def consume(i):
        while True:
            finished = done.is_set()
            if ring.wait_for_data(readers[i], 0.01) or finished:
                samples, lost = readers[i].read(max_samples=1000)
                received[i].append(samples)
                lost_totals[i] += lost
            if finished and readers[i].available == 0:
                return

    threads = [threading.Thread(target=consume, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for k in range(n_blocks):
        while ring.slowest_reader_lag() > ring.capacity - block:  # never overwrite
            threading.Event().wait(0.0002)
        ring.write(data[k * block : (k + 1) * block])
    done.set()
    for t in threads:
        t.join(10)
    for i in range(2):
        got = np.concatenate(received[i])
        assert lost_totals[i] == 0
        assert len(got) == len(data)
        assert zlib.crc32(got.tobytes()) == zlib.crc32(data.tobytes())


def test_concurrent_loss_is_counted_exactly():
    """A slow reader: delivered + lost == written, and delivered samples are in order."""
    ring = RingBuffer(500)
    reader = ring.add_reader()
    data = np.arange(200_000, dtype=np.float32)
    delivered, lost_total = [], 0

    def write_all():
        for k in range(0, len(data), 64):
            ring.write(data[k : k + 64])

    writer = threading.Thread(target=write_all)
    writer.start()
    while writer.is_alive() or reader.available:
        samples, lost = reader.read(max_samples=300)
        lost_total += lost
        delivered.append(samples)
    writer.join()
    got = np.concatenate(delivered)
    assert len(got) + lost_total == len(data)
    assert np.all(np.diff(got) >= 1)  # strictly increasing: no repeats, no reordering
