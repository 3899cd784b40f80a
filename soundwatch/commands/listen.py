"""`soundwatch listen --headless`: run the engine without a window, with a status line."""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "listen", help="monitor a microphone or a file without a window (headless)"
    )
    parser.add_argument("--headless", action="store_true",
                        help="no window (the only mode of `listen`; accepted for clarity)")
    parser.add_argument("--device", help="input device index or name part (see `devices`)")
    parser.add_argument("--file", help="replay this audio file instead of the microphone")
    parser.add_argument("--fast", action="store_true",
                        help="with --file: as fast as possible instead of real time")
    parser.add_argument("--duration", type=float, default=None,
                        help="stop after this many seconds of wall time")
    parser.add_argument("--status-interval", type=float, default=1.0,
                        help="seconds between status lines (0: none)")


def run(args) -> int:
    from soundwatch.engine import Engine
    from soundwatch.features import FeatureSpec
    from soundwatch.signals import stop_on_signals
    from soundwatch.sources import open_source

    spec = FeatureSpec()
    source = open_source(args.file, args.device, spec.sample_rate_hz, paced=not args.fast)
    engine = Engine(source, spec)
    started = time.monotonic()
    with stop_on_signals() as stop:
        engine.start()
        next_status = time.monotonic() + args.status_interval
        while engine.running and not stop.is_set():
            if args.duration is not None and time.monotonic() - started >= args.duration:
                break
            stop.wait(0.05)
            if args.status_interval > 0 and time.monotonic() >= next_status:
                next_status += args.status_interval
                print(status_line(engine), flush=True)
        engine.stop()
    print(summary_line(engine, time.monotonic() - started), flush=True)
    if engine.error is not None:
        print(f"soundwatch: error: engine stopped: {engine.error}", file=sys.stderr)
        return 1
    return 0


def status_line(engine) -> str:
    s = engine.stats
    return (f"t={s.audio_s:7.1f}s level={s.level_dbfs:6.1f} dBFS lag={s.lag_s * 1000:5.0f} ms "
            f"overflows={engine.source.stats.overflows} lost={s.samples_lost}")


def summary_line(engine, wall_s: float) -> str:
    s = engine.stats
    return (f"stopped: {s.audio_s:.1f} s of audio in {wall_s:.1f} s, {s.frames} frames, "
            f"overflows={engine.source.stats.overflows}, samples lost={s.samples_lost}, "
            f"gaps={s.gaps}")
