"""What every benchmark reports about where it ran, and how it prints its result."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SOUNDWATCH_SHARED_DATA", REPO.parent / "shared" / "data"))


def machine_info() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def emit(name: str, measures: str, results: dict) -> None:
    """Print one JSON object: the benchmark's name, what it measures, results, machine."""
    print(json.dumps({"benchmark": name, "measures": measures, "results": results,
                      "machine": machine_info()}, indent=None))
    sys.stdout.flush()


def require_shared_data() -> Path:
    if not SHARED_DATA.exists():
        print(json.dumps({"error": f"needs the shared data folder at {SHARED_DATA} "
                          "(set SOUNDWATCH_SHARED_DATA)"}))
        sys.exit(1)
    return SHARED_DATA
