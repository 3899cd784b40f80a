"""JSON for people's tools: never the bare ``NaN``/``Infinity`` Python's json writes by
default, which is not JSON and breaks ``jq`` and strict parsers downstream.

Every JSON the app writes for others to read (``--json`` lines, exports, the database's
settings column) goes through :func:`to_json`; a non-finite number there is a bug to
report, not a line to print.
"""

from __future__ import annotations

import json
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
    from soundwatch.atomic_file import replace_file_text

    return replace_file_text(path, to_json(value, indent=1), what, "sounds.json")
