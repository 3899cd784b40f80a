"""Event databases as an older soundwatch wrote them, for migration tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def rewind_schema(path: Path, version: int, *statements: str) -> None:
    """Turn a current database at ``path`` into one of schema ``version``: run
    ``statements`` (dropping what ``version`` lacked), then set both version marks."""
    db = sqlite3.connect(path)
    for statement in statements:
        db.execute(statement)
    db.execute(f"UPDATE schema_version SET version = {int(version)}")
    db.execute(f"PRAGMA user_version = {int(version)}")
    db.commit()
    db.close()
