"""SIGINT/SIGTERM/SIGHUP -> a threading.Event, so long-running commands stop cleanly."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from contextlib import contextmanager


@contextmanager
def stop_on_signals(on_repeat: Callable[[], None] | None = None):
    """Yield an Event that is set on SIGINT, SIGTERM or SIGHUP (the terminal or SSH
    session closed: without a handler it killed the process like ``kill -9``, losing the
    event in progress); old handlers come back afterwards. A SIGHUP that is ignored
    (``nohup``) stays ignored. ``on_repeat`` is called at each further signal (someone
    who stops again does not want to wait for the clean stop's last writes)."""
    stop = threading.Event()
    previous = {}

    def handler(signum, frame):
        if stop.is_set() and on_repeat is not None:
            on_repeat()
        stop.set()

    wanted = [signal.SIGINT, signal.SIGTERM]
    hangup = getattr(signal, "SIGHUP", None)  # not on Windows
    if hangup is not None and signal.getsignal(hangup) is not signal.SIG_IGN:
        wanted.append(hangup)
    for signum in wanted:
        previous[signum] = signal.signal(signum, handler)
    try:
        yield stop
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
