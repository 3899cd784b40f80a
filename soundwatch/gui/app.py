"""Start the window: check for a display, load settings and model, open the store, run Qt.

Threads: this is the Qt (main) thread. See :mod:`soundwatch.gui.window` for who runs where.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

from soundwatch.errors import SoundwatchError
from soundwatch.features import FeatureSpec
from soundwatch.jsonout import to_json

log = logging.getLogger(__name__)

# Qt platforms that need no display server.
HEADLESS_QT_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb")


def headless_hint(environ=None, microphone: bool = True, file: str | None = None) -> str:
    """Where to go without a window, naming the command the user typed (scripts/run.sh
    sets it: :mod:`soundwatch.command`), as the no-microphone message does; without a
    ``microphone`` either, that is a recording replayed; with a ``file`` to replay, that
    file."""
    import shlex

    from soundwatch.command import suggest

    if file:
        return ("replay it without a window: "
                + suggest(f"listen --headless --file {shlex.quote(str(file))}", environ))
    if not microphone:
        return ("and no microphone was found either, so replay a recording without a "
                "window: " + suggest("listen --headless --file PATH", environ))
    return ("run without a window instead: " + suggest("listen --headless", environ)
            + " (with --device NAME or --file PATH)")


def microphone_present() -> bool:
    """Whether PortAudio lists an input device (True when it cannot tell: the listening
    command then says what is wrong)."""
    from soundwatch.audio.capture import list_input_devices

    try:
        return bool(list_input_devices())
    except Exception:  # PortAudio missing or broken: not this message's concern
        return True


def display_problem(environ=None, platform: str | None = None,
                    microphone: bool | None = None, file: str | None = None) -> str | None:
    """Why no window can open here, or None. Checked before Qt starts, because Qt aborts
    the whole process when it cannot connect to a display. ``microphone``: whether there
    is one (None: ask PortAudio, only when there is no display and no ``file`` to
    replay), so that a machine with neither is told both at once."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    qpa = environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if qpa in HEADLESS_QT_PLATFORMS:
        return None
    if platform.startswith("linux") or "bsd" in platform:
        if not environ.get("DISPLAY") and not environ.get("WAYLAND_DISPLAY"):
            if microphone is None and not file:
                microphone = microphone_present()
            return ("no display: neither DISPLAY nor WAYLAND_DISPLAY is set (an SSH session, "
                    "a server or a container?), so the window cannot open; "
                    + headless_hint(environ, bool(microphone), file))
    return None


def load_classifier(model_path: str | None, threads: int):
    """(classifier, notice): the model, or None and a message saying what is missing."""
    from soundwatch.model import Classifier, default_model_path
    from soundwatch.sounds.apply import with_user_sounds

    try:
        path = Path(model_path) if model_path else default_model_path()
        classifier = with_user_sounds(Classifier(path, threads=threads))
        unloaded = getattr(classifier, "unloaded_sounds", None)
        if unloaded is not None and unloaded.detail:  # said on stderr only, before
            return classifier, f"Your sounds are not scored: {unloaded.detail}"
        return classifier, None
    except SoundwatchError as exc:
        return None, (f"{exc} Until then the window shows the spectrogram and level only, "
                      "without classes or events.")


def run_app(args) -> int:
    """Open the window as ``soundwatch gui`` asked; returns the exit status."""
    from PySide6.QtCore import QTimer

    app, window = build_window(args)
    quit_after_s = args.quit_after
    if args.screenshot and quit_after_s is None:
        quit_after_s = 6.0
    if quit_after_s is not None:
        _start_closer(args, window, quit_after_s)

    # Ctrl+C in the terminal closes the window cleanly: Python handles signals only when
    # it runs, so a light timer gives it the chance while Qt's loop waits.
    previous = signal.signal(signal.SIGINT, lambda *_: window.close())
    keepalive = QTimer()
    keepalive.timeout.connect(lambda: None)
    keepalive.start(200)
    try:
        status = app.exec()
    finally:
        keepalive.stop()
        signal.signal(signal.SIGINT, previous)
        window.shutdown()
    return int(status)


SETTLE_S = 0.4  # after a replay ends: time for the last frames to be drawn


def _start_closer(args, window, quit_after_s: float) -> None:
    """Start a timer (owned by the window) that saves the screenshot, if asked, and closes
    the window after ``quit_after_s``, or earlier, ``SETTLE_S`` after a replayed file has
    ended, so the picture shows the whole file however slowly the machine started the app."""
    import time

    from PySide6.QtCore import QTimer

    deadline = time.monotonic() + quit_after_s

    def check():
        nonlocal deadline
        now = time.monotonic()
        if window.replays_finished:
            deadline = min(deadline, now + SETTLE_S)
        if now >= deadline:
            timer.stop()
            if args.screenshot:
                save_screenshot(window, args.screenshot, getattr(args, "screenshot_info", None))
            window.close()

    timer = QTimer(window)
    timer.timeout.connect(check)
    timer.start(100)


def build_window(args, start: bool = True):
    """(QApplication, MainWindow): everything set up and shown; with ``start``, listening
    begins as soon as the event loop runs. ``args`` has the options of ``soundwatch gui``."""
    problem = display_problem(file=getattr(args, "file", None))
    if problem:
        raise SoundwatchError(problem)
    try:
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
    except ImportError as exc:
        raise SoundwatchError(
            f"the window needs PySide6, which cannot be imported ({exc}); install it with "
            "`pip install PySide6-Essentials pyqtgraph`, or " + headless_hint()) from exc

    from soundwatch.gui.mailbox import GuiMailbox
    from soundwatch.gui.preferences import Preferences
    from soundwatch.gui.session import ListeningSession, SourceChoice
    from soundwatch.gui.theme import apply_theme
    from soundwatch.gui.window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("soundwatch")
    apply_theme(app)

    preferences = Preferences(args.config)
    notices = []
    classifier, notice = load_classifier(args.model or preferences.settings.model.path,
                                         preferences.settings.model.threads)
    if notice:
        notices.append(notice)
    if classifier is not None:
        preferences.check_with(classifier)
    settings = preferences.settings
    if classifier is not None:
        from soundwatch.unusual.apply import listening_classifier
        from soundwatch.unusual.profile import default_profile_path

        classifier = listening_classifier(classifier, settings, default_profile_path())
    store, clips = None, None
    try:
        from soundwatch.store import EventStore

        store = EventStore(args.db or settings.database_path())
    except SoundwatchError as exc:
        notices.append(f"{exc} Events are shown but not saved.")
    if classifier is not None and settings.clips.enabled:
        from soundwatch.clips import clip_writer_for

        try:
            clips = clip_writer_for(settings, classifier, args.db)
        except SoundwatchError as exc:
            notices.append(f"{exc} Events are saved without clips.")
    spec = classifier.spec if classifier is not None else FeatureSpec()
    mailbox = GuiMailbox(spec.n_features, spec.hop_length,
                         max_frames=int(round(args.spectrogram_s / spec.hop_s)))
    alerts_off = bool(getattr(args, "no_alerts", False))
    if alerts_off and settings.alerts.any_channel:
        notices.append("Alerts are off in this window (--no-alerts).")
    if args.file:  # opened on a recording: its alerts come from a node of its own
        settings = replace(settings, alerts=settings.alerts.for_replay())
    session = ListeningSession(mailbox, classifier, settings, store, clips,
                               alerts_off=alerts_off)
    window = MainWindow(session, preferences, notice=" ".join(notices) or None,
                        redraw_fps=args.fps, spectrogram_s=args.spectrogram_s,
                        timeline_s=args.timeline_s)
    window.show()
    window.refresh_devices()
    if args.file:
        choice = SourceChoice(file=args.file, paced=not args.fast)
    else:
        choice = SourceChoice(device=args.device or preferences.device)
    if start:
        QTimer.singleShot(0, lambda: window.start_listening(choice))
    return app, window


def save_screenshot(window, path: str | Path, info_path: str | Path | None = None) -> Path:
    """Render the whole window into a PNG (works on any Qt platform, offscreen included).

    With ``info_path``, also write JSON facts that let a test read the picture: the Qt
    platform, and where the spectrogram and its frequencies lie in the image's pixels.
    """
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    window.on_frame_tick()  # draw what arrived since the last tick
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixmap = window.grab()
    if not pixmap.save(str(path), "PNG"):
        raise SoundwatchError(f"could not write the screenshot {path}: check the folder")
    log.info("screenshot saved to %s", path)
    if info_path:
        info = {"platform": QApplication.platformName(),
                "size": [pixmap.width(), pixmap.height()],
                "device_pixel_ratio": pixmap.devicePixelRatio(),
                **window.spectrogram.pixel_geometry(window)}
        Path(info_path).write_text(to_json(info, indent=1), encoding="utf-8")
    return path
