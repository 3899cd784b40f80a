"""JSON for people's tools: never the bare ``NaN``/``Infinity`` Python's json writes by
default, which is not JSON and breaks ``jq`` and strict parsers downstream.

Every JSON the app writes for others to read (``--json`` lines, exports, the database's
settings column) goes through :func:`to_json`; a non-finite number there is a bug to
report, not a line to print.
"""

from __future__ import annotations

import json


def to_json(value, **options) -> str:
    """``json.dumps(value, **options)`` that raises ValueError on NaN or ±inf."""
    return json.dumps(value, allow_nan=False, **options)
