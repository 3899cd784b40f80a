"""`soundwatch listen --headless`: monitor a microphone or a file, log events, save clips.

Settings come from the config file (``--config``, default: the user config dir), and
flags override them. Events go to stdout (one human line, or one JSON object per line
with ``--json``), to the SQLite database and, with clips on, to FLAC files. SIGINT or
SIGTERM stops capture, closes events in progress, flushes everything and exits 0.

JSON lines all carry a ``type``: ``event_started``, ``event``, ``gap``, ``status``,
``summary``. An ``event`` line is printed only after the event is committed to the
database.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from dataclasses import replace

log = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "listen", help="monitor a microphone or a file without a window (headless)",
        description="Monitor a microphone (or replay a file) without a window: print each "
        "sound event, log it to SQLite and optionally save a clip of it.",
    )
    parser.add_argument("--headless", action="store_true",
                        help="no window (the only mode of `listen`; accepted for clarity)")
    source = parser.add_argument_group("input")
    source.add_argument("--device", help="input device index or name part (see `devices`)")
    source.add_argument("--file", help="replay this audio file instead of the microphone")
    source.add_argument("--fast", action="store_true",
                        help="with --file: as fast as possible instead of real time")
    source.add_argument("--duration", type=float, default=None,
                        help="stop after this many seconds of wall time")
    model = parser.add_argument_group("model and settings")
    model.add_argument("--model", help="the .onnx model (default: the shipped "
                       "models/soundwatch.onnx, or $SOUNDWATCH_MODEL)")
    model.add_argument("--threads", type=int, help="onnxruntime threads (default 1)")
    model.add_argument("--config", help="TOML settings file (default: config.toml in the "
                       "user config dir, if it exists)")
    detection = parser.add_argument_group("detection (override the config file)")
    detection.add_argument("--threshold-on", type=float, help="score that starts an event")
    detection.add_argument("--threshold-off", type=float, help="score below which it ends")
    detection.add_argument("--hop", type=float, dest="hop_s",
                           help="seconds between scored windows (e.g. 0.1-0.5)")
    detection.add_argument("--min-duration", type=float, dest="min_duration_s",
                           help="drop events shorter than this (s)")
    detection.add_argument("--watch", action="append", metavar="LABEL[,LABEL]",
                           help="only these labels make events (repeat or comma-separate)")
    detection.add_argument("--ignore", action="append", metavar="LABEL[,LABEL]",
                           help="these labels never make events")
    output = parser.add_argument_group("output")
    output.add_argument("--json", action="store_true",
                        help="print JSON lines (events, gaps, status, summary) on stdout")
    output.add_argument("--db", help="SQLite event database (default: events.sqlite in the "
                        "user data dir)")
    output.add_argument("--no-db", action="store_true", help="do not write a database")
    output.add_argument("--clips", action=argparse.BooleanOptionalAction, default=None,
                        help="save a FLAC clip of every event (--no-clips: don't)")
    output.add_argument("--clip-dir", help="folder for clips (default: clips/ in the user "
                        "data dir)")
    output.add_argument("--status-interval", type=float, default=1.0,
                        help="seconds between status lines (0: none)")
    alerts = parser.add_argument_group("alerts (override [alerts] in the config file)")
    alerts.add_argument("--node", help="this listener's name in alerts and MQTT topics "
                        "(default: the host name)")
    alerts.add_argument("--mqtt", metavar="URL", help="publish events, states, the level and "
                        "Home Assistant discovery to this broker: mqtt://[user:pass@]host[:port]")
    alerts.add_argument("--webhook", metavar="URL", help="POST each alert as JSON here")
    alerts.add_argument("--webhook-token", metavar="TOKEN",
                        help="send 'Authorization: Bearer TOKEN' with each webhook")
    alerts.add_argument("--apprise", action="append", metavar="URL",
                        help="notify this Apprise URL (ntfy://, gotify://, tgram://, json:// "
                        "...); repeat for more")
    alerts.add_argument("--notify-desktop", action=argparse.BooleanOptionalAction, default=None,
                        help="desktop notifications (needs a D-Bus session bus)")


def run(args) -> int:
    from soundwatch.clips import ClipWriter
    from soundwatch.config import load_settings
    from soundwatch.model import Classifier, default_model_path
    from soundwatch.monitor import Monitor
    from soundwatch.signals import stop_on_signals
    from soundwatch.sources import open_source
    from soundwatch.store import EventStore

    settings = apply_flags(load_settings(args.config), args)
    model_path = args.model or settings.model.path or default_model_path()
    classifier = Classifier(model_path, threads=settings.model.threads)
    source = open_source(args.file, settings.audio.device, classifier.sample_rate_hz,
                         paced=not args.fast)
    store = None if args.no_db else EventStore(settings.database_path())
    clips = None
    if settings.clips.enabled:
        c = settings.clips
        clips = ClipWriter(settings.clip_directory(), c.pre_roll_s, c.post_roll_s, c.max_mb,
                           c.max_files, c.min_free_mb, classifier.sample_rate_hz)
    monitor = Monitor(source, classifier, settings.detection, store=store, clips=clips,
                      session_info={"config": str(args.config or ""),
                                    "clips": settings.clips.enabled})
    printer = ConsolePrinter(monitor, as_json=args.json)
    monitor.add_listener(printer.listener)
    alerts = None
    if settings.alerts.any_channel or settings.alerts.rules:
        from soundwatch.alerts.service import Alerts

        try:
            alerts = Alerts(settings.alerts, classifier.labels, store,
                            level_dbfs=lambda: monitor.engine.stats.level_dbfs,
                            model_name=classifier.path.stem)
        except BaseException:
            if store is not None:
                store.close()
            raise
        monitor.alerts = alerts.router
        printer.alerts = alerts
        log.info("%s", alerts.describe())
    log.info("model %s (%d labels), hop %.2f s, window %.2f s; database %s; clips %s",
             classifier.path, len(classifier.labels), monitor.hop_s, classifier.window_s,
             store.path if store else "off", clips.directory if clips else "off")

    started = time.monotonic()
    try:
        with stop_on_signals() as stop:
            if alerts is not None:
                alerts.start()
            monitor.start()
            next_status = time.monotonic() + args.status_interval
            while monitor.running and not stop.is_set():
                if args.duration is not None and time.monotonic() - started >= args.duration:
                    break
                stop.wait(0.05)
                if args.status_interval > 0 and time.monotonic() >= next_status:
                    next_status += args.status_interval
                    printer.status()
            monitor.stop()
            if alerts is not None:
                alerts.stop()
        printer.summary(time.monotonic() - started, store)
    finally:
        if alerts is not None and alerts.delivery is not None:
            alerts.delivery.stop(0.0)  # idempotent; an error above must not leave threads
        if store is not None:
            store.close()
    if monitor.error is not None:
        print(f"soundwatch: error: engine stopped: {monitor.error}", file=sys.stderr)
        return 1
    return 0


def apply_flags(settings, args):
    """The config file's settings with the command-line flags on top."""
    from soundwatch.errors import SoundwatchError

    detection = detection_with_flags(settings.detection, args)
    model = settings.model
    if args.threads is not None:
        model = replace(model, threads=args.threads)
        if args.threads < 1:
            raise SoundwatchError(f"--threads must be >= 1, got {args.threads}")
    audio = replace(settings.audio, device=args.device) if args.device else settings.audio
    clips = settings.clips
    if args.clips is not None:
        clips = replace(clips, enabled=args.clips)
    if args.clip_dir:
        clips = replace(clips, directory=args.clip_dir, enabled=True if args.clips is None
                        else args.clips)
    store = replace(settings.store, database=args.db) if args.db else settings.store
    return replace(settings, detection=detection, model=model, audio=audio, clips=clips,
                   store=store, alerts=alerts_with_flags(settings.alerts, args))


def alerts_with_flags(alerts, args):
    """``alerts`` (AlertSettings) with the alert flags of ``args`` on top."""
    from soundwatch.errors import SoundwatchError

    if args.node:
        alerts = replace(alerts, node=args.node)
    if args.mqtt:
        alerts = replace(alerts, mqtt=replace(alerts.mqtt, url=args.mqtt))
    if args.webhook or args.webhook_token:
        alerts = replace(alerts, webhook=replace(
            alerts.webhook, url=args.webhook or alerts.webhook.url,
            bearer_token=args.webhook_token or alerts.webhook.bearer_token))
    if args.apprise:
        alerts = replace(alerts, apprise=replace(
            alerts.apprise, urls=tuple(alerts.apprise.urls) + tuple(args.apprise)))
    if args.notify_desktop is not None:
        alerts = replace(alerts, desktop=replace(alerts.desktop, enabled=args.notify_desktop))
    problems = alerts.problems()
    if problems:
        raise SoundwatchError("invalid alert settings: " + "; ".join(problems))
    return alerts


def detection_with_flags(detection, args, **fixed):
    """``detection`` (DetectorSettings) with the detection flags of ``args`` on top (and
    any ``fixed`` values); out-of-range results raise a SoundwatchError naming them."""
    from soundwatch.errors import SoundwatchError

    changes = {key: getattr(args, key) for key in
               ("threshold_on", "threshold_off", "hop_s", "min_duration_s")
               if getattr(args, key) is not None}
    if args.watch:
        changes["watch"] = split_labels(args.watch)
    if args.ignore:
        changes["ignore"] = split_labels(args.ignore)
    if "threshold_on" in changes and "threshold_off" not in changes:
        changes["threshold_off"] = min(detection.threshold_off, changes["threshold_on"])
    detection = replace(detection, **changes, **fixed)
    problems = detection.problems()
    if problems:
        raise SoundwatchError("invalid command-line settings: " + "; ".join(problems))
    return detection


def split_labels(values: list[str]) -> tuple[str, ...]:
    return tuple(label.strip() for value in values for label in value.split(",")
                 if label.strip())


class ConsolePrinter:
    """Prints events (from the worker thread) and status lines (from the main thread)."""

    def __init__(self, monitor, as_json: bool, stream=None):
        from soundwatch.monitor import MonitorListener

        self.monitor = monitor
        self.as_json = as_json
        self.stream = stream or sys.stdout
        self.alerts = None  # an soundwatch.alerts.service.Alerts: its outbox in status lines
        self._lock = threading.Lock()
        # Defined here so that `soundwatch --help` does not import the engine and numpy.
        printer = self

        class _Listener(MonitorListener):
            def on_event_started(self, event):
                printer.event_started(event)

            def on_event(self, event):
                printer.event_ended(event)

            def on_gap(self, start_sample, n_samples):
                printer.gap(start_sample, n_samples)

        self.listener = _Listener()

    def _emit(self, line: str) -> None:
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    def _clock(self, sample: int) -> str:
        return self.monitor.wall_time(sample).astimezone().strftime("%H:%M:%S.%f")[:-3]

    def event_started(self, event) -> None:
        if self.as_json:
            fields = event.to_dict()
            self._emit(json.dumps({
                "type": "event_started", "event_id": event.event_id, "label": event.label,
                "start_s": fields["start_s"], "detected_at_s": fields["end_s"],
                "peak": fields["peak"], "continued_from": event.continued_from,
                "start_time": _iso(self.monitor.wall_time(event.start_sample)),
            }))
        else:
            self._emit(f"{self._clock(event.start_sample)}  {event.label:<20} started   "
                       f"t={event.start_s:8.2f}s")

    def event_ended(self, event) -> None:
        if self.as_json:
            self._emit(json.dumps({
                "type": "event", **event.to_dict(),
                "start_time": _iso(self.monitor.wall_time(event.start_sample)),
                "end_time": _iso(self.monitor.wall_time(event.end_sample)),
            }))
        else:
            self._emit(f"{self._clock(event.start_sample)}  {event.label:<20} "
                       f"{event.duration_s:6.2f} s   t={event.start_s:8.2f}-{event.end_s:.2f}s "
                       f"peak={event.peak:.2f} mean={event.mean:.2f}")

    def gap(self, start_sample: int, n_samples: int) -> None:
        rate = self.monitor.sample_rate_hz
        if self.as_json:
            self._emit(json.dumps({"type": "gap", "start_s": round(start_sample / rate, 3),
                                   "duration_s": round(n_samples / rate, 3)}))
        else:
            self._emit(f"{self._clock(start_sample)}  gap: {n_samples / rate:.1f} s of audio "
                       f"lost at t={start_sample / rate:.2f}s")

    def status(self) -> None:
        engine = self.monitor.engine
        if self.as_json:
            s = engine.stats
            self._emit(json.dumps({
                "type": "status", "audio_s": round(s.audio_s, 2),
                "level_dbfs": round(s.level_dbfs, 1), "lag_s": round(s.lag_s, 3),
                "overflows": engine.source.stats.overflows, "samples_lost": s.samples_lost,
                "active": self.monitor.detector.active_labels,
                **({"outbox": self.alerts.status()} if self.alerts else {}),
            }))
        else:
            active = ",".join(self.monitor.detector.active_labels) or "-"
            self._emit(status_line(engine) + f" hearing={active}" + self._outbox_text())

    def _outbox_text(self) -> str:
        if self.alerts is None:
            return ""
        from soundwatch.alerts.service import status_text

        text = status_text(self.alerts.status())
        return f" {text}" if text else ""

    def summary(self, wall_s: float, store) -> None:
        monitor = self.monitor
        counts = dict(monitor.event_counts.most_common())
        gaps_s = sum(n for _, n in monitor.gaps) / monitor.sample_rate_hz
        if self.as_json:
            s = monitor.engine.stats
            self._emit(json.dumps({
                "type": "summary", "audio_s": round(s.audio_s, 2), "wall_s": round(wall_s, 2),
                "events": sum(counts.values()), "events_by_label": counts,
                "gaps": len(monitor.gaps), "gap_s": round(gaps_s, 3),
                "overflows": monitor.engine.source.stats.overflows,
                "database": str(store.path) if store else None,
                "session_id": monitor.session_id,
                "clips_written": monitor.clips.written if monitor.clips else 0,
                **({"outbox": self.alerts.status()} if self.alerts else {}),
            }))
            return
        self._emit(summary_line(monitor.engine, wall_s))
        listing = ", ".join(f"{label} {n}" for label, n in counts.items()) or "none"
        self._emit(f"events: {sum(counts.values())} ({listing})"
                   + (f"; {len(monitor.gaps)} gap(s), {gaps_s:.1f} s lost" if monitor.gaps
                      else ""))
        if store is not None:
            self._emit(f"logged to {store.path} (session {monitor.session_id}); "
                       f"read back with `soundwatch events list --db {store.path}`")
        if monitor.clips is not None:
            self._emit(f"clips: {monitor.clips.written} written to {monitor.clips.directory}"
                       + (f", {monitor.clips.failed} failed" if monitor.clips.failed else ""))
        if self.alerts is not None and self._outbox_text():
            self._emit(f"alerts:{self._outbox_text()} (undelivered alerts go out on the "
                       "next run)")


def _iso(moment) -> str:
    from datetime import timezone

    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def status_line(engine) -> str:
    s = engine.stats
    return (f"t={s.audio_s:7.1f}s level={s.level_dbfs:6.1f} dBFS lag={s.lag_s * 1000:5.0f} ms "
            f"overflows={engine.source.stats.overflows} lost={s.samples_lost}")


def summary_line(engine, wall_s: float) -> str:
    s = engine.stats
    return (f"stopped: {s.audio_s:.1f} s of audio in {wall_s:.1f} s, {s.frames} frames, "
            f"overflows={engine.source.stats.overflows}, samples lost={s.samples_lost}, "
            f"gaps={s.gaps}")
