"""Hold back what ALSA and PortAudio print while a lost input device is being reopened.

Both C libraries write their own diagnostics straight to file descriptor 2 ("ALSA lib
pulse.c:242:(pulse_connect) PulseAudio: Unable to connect", "Expression 'ret' failed in
'src/hostapi/alsa/pa_linux_alsa.c', line: 1736"), past Python's logging. Each failed
reopen of a lost device printed about five such lines, once a second: a microphone
unplugged for an hour filled a service's journal with some 20,000 lines that say nothing
the one warning "stopped delivering audio; retrying" does not. The Debian PortAudio build
exports no hook for its messages, so fd 2 itself is pointed at a temporary file during
the reopen; afterwards the libraries' lines go to the debug log and every other line
(another thread's log record written meanwhile) is written out as it was, a few
milliseconds late.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator

log = logging.getLogger(__name__)

# Lines ALSA's library and PortAudio's ALSA host API print on their own.
LIBRARY_LINE = re.compile(r"^(ALSA lib |Expression '.*' failed in 'src/|PaAlsaStream|"
                          r"Cannot connect to server socket|jack server is not running)")
_redirect_lock = threading.Lock()  # one redirect of fd 2 at a time


@contextlib.contextmanager
def library_messages_held() -> Iterator[None]:
    """Within the block, what is written to fd 2 is held; on leaving it, the ALSA and
    PortAudio lines among it are logged at DEBUG and the rest written to fd 2. Where fd 2
    cannot be redirected (no temporary file: a full disk), the block runs as it is."""
    with _redirect_lock:
        try:
            held = tempfile.TemporaryFile()
            saved = os.dup(2)
        except OSError:
            yield
            return
        with held:
            _flush_python_stderr()
            os.dup2(held.fileno(), 2)
            try:
                yield
            finally:
                _flush_python_stderr()
                os.dup2(saved, 2)
                os.close(saved)
                held.seek(0)
                _pass_on(held.read())


def _flush_python_stderr() -> None:
    with contextlib.suppress(Exception):  # a closed or replaced sys.stderr
        sys.stderr.flush()


def _pass_on(data: bytes) -> None:
    library, other = [], []
    for line in data.decode(errors="replace").splitlines(keepends=True):
        # (blank lines come with the libraries' messages; they carry nothing)
        (library if LIBRARY_LINE.match(line) or not line.strip() else other).append(line)
    if other:  # written while held: they come first
        with contextlib.suppress(OSError):
            os.write(2, "".join(other).encode())
    said = [line.strip() for line in library if line.strip()]
    if said:
        log.debug("ALSA/PortAudio said (%d line(s)): %s", len(said), " | ".join(said[:8]))
