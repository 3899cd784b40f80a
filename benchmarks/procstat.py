"""CPU and memory of a child process, read from /proc while it runs (Linux)."""

from __future__ import annotations

import os
import subprocess
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far (threads included)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MB."""
    values = {}
    for line in open(f"/proc/{pid}/status"):
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def measure(command: list[str], run_s: float, warmup_s: float, sample_every_s: float = 2.0,
            env: dict | None = None) -> dict:
    """Run ``command`` for ``run_s`` seconds, then SIGTERM it; CPU% after warm-up, RSS."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=env, text=True)
    started = time.monotonic()
    samples = []  # (t, cpu_s, rss_mb)
    try:
        while time.monotonic() - started < run_s:
            if process.poll() is not None:
                raise RuntimeError(f"{command[:4]} exited early: {process.stderr.read()[-1500:]}")
            rss, peak = rss_mb(process.pid)
            samples.append((time.monotonic() - started, cpu_seconds(process.pid), rss, peak))
            time.sleep(sample_every_s)
    finally:
        process.terminate()
        process.wait(30)
    after = [s for s in samples if s[0] >= warmup_s]
    first, last = after[0], after[-1]
    return {
        "run_s": round(last[0], 1),
        "warmup_s": warmup_s,
        "cpu_percent_of_one_core": round(100 * (last[1] - first[1]) / (last[0] - first[0]), 2),
        "cpu_percent_including_startup": round(100 * last[1] / last[0], 2),
        "rss_mb_after_warmup": round(first[2], 1),
        "rss_mb_at_end": round(last[2], 1),
        "rss_growth_mb": round(last[2] - first[2], 1),
        "peak_rss_mb": round(last[3], 1),
        "exit_code": process.returncode,
    }
