"""Training, evaluation and export of soundwatch models (needs the ``train`` extra: torch).

Modules that import torch (net, fit, export, run, evaluate) are imported only by the
``train`` and ``evaluate`` commands, after :func:`require_torch` has checked torch is there.
"""

from __future__ import annotations

from soundwatch.errors import SoundwatchError

INSTALL_HINT = "install the train extra: .venv/bin/pip install -e '.[train]'"


def require_torch() -> None:
    """Raise a clear SoundwatchError when torch (or onnx) cannot be imported."""
    missing = []
    for name in ("torch", "onnx"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise SoundwatchError(f"training needs {' and '.join(missing)}, which "
                              f"{'is' if len(missing) == 1 else 'are'} not installed; "
                              f"{INSTALL_HINT}")


def show_training_progress(quiet: int) -> None:
    """Let the per-epoch log lines of soundwatch.train through at the default verbosity
    (the CLI shows only warnings by default); ``-q`` silences them again."""
    import logging

    if quiet <= 0:
        logging.getLogger("soundwatch.train").setLevel(logging.INFO)
