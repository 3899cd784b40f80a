"""JSON for people's tools: never the bare ``NaN``/``Infinity`` Python's json writes by
default, which is not JSON and breaks ``jq`` and strict parsers downstream.

Every JSON the app writes for others to read (``--json`` lines, exports, the database's
settings column) goes through :func:`to_json`; a non-finite number there is a bug to
report, not a line to print.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path


def to_json(value, **options) -> str:
    """``json.dumps(value, **options)`` that raises ValueError on NaN or ±inf."""
    return json.dumps(value, allow_nan=False, **options)


def write_json_file(path: str | Path, value, what: str) -> Path:
    """Replace the file at ``path`` with ``value`` as indented JSON, atomically (a
    temporary file renamed over it: a crash never leaves half a file).

    Raises:
        SoundwatchError: the folder or file cannot be written; ``what`` names the file
            in the message (e.g. "the sounds file").
    """
    from soundwatch.errors import SoundwatchError

    path = Path(path)
    if path.is_dir():
        raise SoundwatchError(f"cannot write {what} {path}: it is a folder. Give a file "
                              f"name, e.g. {path / 'sounds.json'}")
    text = to_json(value, indent=1)
    temporary = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):  # half a file (a full disk): no litter left
            temporary.unlink()
        raise SoundwatchError(f"cannot write {what} {path}: {exc}. Check the folder's "
                              "permissions and free space.") from exc
    return path
