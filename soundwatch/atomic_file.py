"""Replace a file's text so that a crash, a kill or a full disk never leaves half of it."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path


def replace_file_text(path: str | Path, text: str, what: str, example_name: str) -> Path:
    """Write ``text`` (UTF-8) to a temporary file beside ``path``, then rename it over
    ``path``: readers see the old file or the new one, never a mix.

    Args:
        what: names the file in messages (e.g. "the sounds file").
        example_name: a file name to suggest when ``path`` is a folder.

    Raises:
        SoundwatchError: ``path`` is a folder, or the folder or file cannot be written
            (permissions, a full disk); the temporary file is removed.
    """
    from soundwatch.errors import SoundwatchError

    path = Path(path)
    if path.is_dir():
        raise SoundwatchError(f"cannot write {what} {path}: it is a folder. Give a file "
                              f"name, e.g. {path / example_name}")
    # a name of this writer's own: two processes (or threads) writing at once must not
    # rename each other's half-written file
    temporary = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise SoundwatchError(f"cannot write {what} {path}: {exc}. Check the folder's "
                              "permissions and free space.") from exc
    return path
