"""SIGINT/SIGTERM -> a threading.Event, so long-running commands stop cleanly."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


@contextmanager
def stop_on_signals():
    """Yield an Event that is set on SIGINT or SIGTERM; old handlers come back afterwards."""
    stop = threading.Event()
    previous = {}

    def handler(signum, frame):
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handler)
    try:
        yield stop
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
