"""Hostile environments for the fault-injection tests: small or read-only file systems,
a second process holding an SQLite lock, and the `listen` runs that go through them.

A full or read-only file system is a real tmpfs mounted for the test where the test may
mount (root, as in CI); elsewhere a read-only folder is made with chmod and a full disk
is imitated with RLIMIT_FSIZE in the child process (a file cannot grow past the limit).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

from model_factory import write_scene

from soundwatch.store import EventStore

SOUNDWATCH = [sys.executable, "-m", "soundwatch"]
PARTS = [("silence", 1.0), ("tone_1k", 1.0), ("silence", 1.0), ("noise", 0.8), ("silence", 1.0),
         ("tone_3k", 0.8), ("silence", 1.0)]  # 3 events in 6.6 s


def can_mount() -> bool:
    return os.geteuid() == 0 and os.path.exists("/proc/mounts")


@contextlib.contextmanager
def tmpfs(path: Path, size_kb: int, read_only: bool = False):
    """Mount a tmpfs of ``size_kb`` at ``path`` (made if missing); yields True when
    mounted, False when this process may not mount (the caller falls back)."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size_kb}k,mode=0777" + (",ro" if read_only else "")
    mounted = can_mount() and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


@contextlib.contextmanager
def read_only_folder(path: Path):
    """A folder where nothing can be created: a read-only tmpfs, or chmod 0555 when the
    test is not root (root ignores permissions)."""
    with tmpfs(path, 64, read_only=True) as mounted:
        if not mounted and os.geteuid() == 0:
            import pytest

            pytest.skip("root without the right to mount: no folder is read-only to root")
        if not mounted:
            path.chmod(0o555)
        try:
            yield path
        finally:
            if not mounted:
                path.chmod(0o755)


def fill(folder: Path, leave_bytes: int) -> Path:
    """Fill ``folder``'s file system until only ``leave_bytes`` are free."""
    filler = folder / "filler.bin"
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    with open(filler, "wb") as file:
        remaining = max(0, free - leave_bytes)
        while remaining > 0:
            remaining -= file.write(b"\0" * min(remaining, 1 << 16))
    return filler


def fsize_limit(max_bytes: int):
    """preexec_fn for a child whose files cannot grow past ``max_bytes`` (a full disk)."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return limit


def scene_file(folder: Path, repeats: int) -> tuple[Path, int]:
    """A file of ``repeats`` x 3 events; returns (path, number of events)."""
    folder.mkdir(parents=True, exist_ok=True)
    path, truth = write_scene(folder / f"scene{repeats}.wav", PARTS * repeats)
    return path, len(truth)


def env_for(tmp_path: Path) -> dict:
    return {**os.environ, "SOUNDWATCH_CONFIG_DIR": str(tmp_path / "config"),
            "SOUNDWATCH_DATA_DIR": str(tmp_path / "data")}


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def listen_process(model, audio, database, *extra, env, pythonpath=None, preexec_fn=None,
                   fast=True, cwd=None):
    """Start ``listen --headless --json`` on a file; ``pythonpath`` runs another checkout
    (to measure the code before a fix)."""
    if pythonpath:
        env = {**env, "PYTHONPATH": str(pythonpath)}
    return subprocess.Popen(
        [*SOUNDWATCH, "listen", "--headless", "--file", str(audio), "--model", str(model),
         "--json", "--db", str(database), *(["--fast"] if fast else []), *map(str, extra)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=preexec_fn, cwd=pythonpath or cwd)  # -m puts the working folder first


def kill_9_and_check(process: subprocess.Popen, database: Path) -> None:
    """SIGKILL ``process``, then assert that ``database`` passes SQLite's integrity check."""
    import sqlite3

    process.send_signal(signal.SIGKILL)
    process.wait(10)
    process.stdout.close()
    process.stderr.close()
    raw = sqlite3.connect(database)
    try:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        raw.close()


def stored_events(database: Path) -> list[tuple[str, float]]:
    """(label, start_s) of every event in ``database``, read with plain sqlite3."""
    import sqlite3

    raw = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return [(row[0], round(row[1], 3)) for row in
                raw.execute("SELECT label, start_s FROM events ORDER BY start_s")]
    finally:
        raw.close()


def hold_lock(database: Path, seconds: float) -> subprocess.Popen:
    """A second process that takes an exclusive write lock on ``database`` for
    ``seconds``; returns once the lock is held."""
    script = (
        "import sqlite3, sys, time\n"
        f"db = sqlite3.connect({str(database)!r}, isolation_level=None, timeout=30)\n"
        "db.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        f"time.sleep({seconds})\n"
        "db.execute('ROLLBACK')\n"
    )
    locker = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert locker.stdout.readline().strip() == "locked"
    return locker


def full_disk_run(tmp_path: Path, model: Path, repeats: int = 20, free_when_pending=False,
                  leave_bytes: int = 200_000, pythonpath=None, extra=()) -> dict:
    """``listen`` with its database on a file system that fills up after a few events
    (and, with ``free_when_pending``, a real-time run that gets room again once a status
    line reports pending events); ``extra``: more ``listen`` arguments. Returns what was
    printed and stored, the exit status and the summary."""
    audio, n_truth = scene_file(tmp_path, repeats)
    folder = tmp_path / "small"
    with tmpfs(folder, 1024) as mounted:
        database = folder / "events.sqlite"
        EventStore(database).close()  # a database from earlier runs; then the disk fills
        preexec = None
        if mounted:
            filler = fill(folder, leave_bytes)
        else:  # no mount rights: the database's files cannot grow much
            preexec = fsize_limit(database.stat().st_size + leave_bytes // 4)
            filler = None
        process = listen_process(model, audio, database, "--status-interval", "0.2",
                                 *extra, env=env_for(tmp_path), pythonpath=pythonpath,
                                 preexec_fn=preexec, fast=not free_when_pending)
        lines, freed_at = [], None
        for line in process.stdout:
            if line.startswith("{"):
                record = json.loads(line)
                lines.append(record)
                if (free_when_pending and freed_at is None and filler is not None
                        and record.get("events_pending")):
                    freed_at = time.monotonic()
                    filler.unlink()
        err = process.stderr.read()
        process.wait(120)
        if filler is not None:
            filler.unlink(missing_ok=True)  # room for the reader's -shm file
        stored = stored_events(database) if database.exists() else []
        journal = Path(str(database) + ".pending.jsonl")
        journaled = len(journal.read_text().splitlines()) if journal.exists() else 0
    summary = next((r for r in lines if r["type"] == "summary"), {})
    return {"mounted": mounted, "truth": n_truth, "returncode": process.returncode,
            "printed": [(r["label"], r["start_s"]) for r in lines if r["type"] == "event"],
            "stored": stored, "journaled": journaled, "summary": summary, "stderr": err,
            "freed": freed_at is not None}


def lock_run(tmp_path: Path, model: Path, lock_s: float = 7.0, pythonpath=None,
             repeats: int = 3, fast: bool = False) -> dict:
    """``listen`` (real time, or ``fast``: the run ends while the lock is held) while
    another process holds the database's write lock for ``lock_s`` from the first
    printed event on."""
    audio, n_truth = scene_file(tmp_path, repeats)
    database = tmp_path / "locked.sqlite"
    process = listen_process(model, audio, database, "--status-interval", "0",
                             env=env_for(tmp_path), pythonpath=pythonpath, fast=fast)
    lines, locker = [], None
    for line in process.stdout:
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        lines.append(record)
        if record["type"] == "event" and locker is None:
            locker = hold_lock(database, lock_s)
    err = process.stderr.read()
    process.wait(120)
    if locker is not None:
        locker.wait(30)
    summary = next((r for r in lines if r["type"] == "summary"), {})
    return {"truth": n_truth, "returncode": process.returncode,
            "printed": [(r["label"], r["start_s"]) for r in lines if r["type"] == "event"],
            "stored": stored_events(database), "summary": summary, "stderr": err}
