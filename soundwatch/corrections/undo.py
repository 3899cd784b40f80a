"""Take a correction back: a confirm, reject or relabel clicked by mistake, or a wrong
missed mark.

The correction's row and its kept example are deleted, and the learnt thresholds of the
model labels it named are learnt again from the corrections left (the one rule of
:func:`soundwatch.corrections.record.update_adjustment`), so the place behaves as if it
had never been made. The user's sounds it named are retrained by the caller
(:func:`soundwatch.sounds.retrain.retrain_and_save`), as after a correction. A reset
(``events corrections --reset``) is not undone here: it is kept in the learnt-thresholds
file too, and its corrections can be counted again with a rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from soundwatch.command import command_name
from soundwatch.corrections.record import adjustments_file, update_adjustment
from soundwatch.corrections.thresholds import Adjustment, read_adjustments
from soundwatch.detect import DetectorSettings
from soundwatch.errors import SoundwatchError

UNDOABLE_KINDS = ("confirm", "reject", "relabel", "missed")


@dataclass(frozen=True)
class Undone:
    """What was taken back: ``correction``, its row as
    :meth:`~soundwatch.store.EventStore.corrections` gave it (``id``, ``kind``,
    ``event_row``, ``event_label``, ``label``, ``example_path``, ...); ``example_deleted``,
    whether a kept example file was deleted; ``adjustments``, per model label it named,
    that label's learnt threshold now (None: it has none now)."""

    correction: dict
    example_deleted: bool
    adjustments: dict[str, Adjustment | None]

    @property
    def labels(self) -> set[str]:
        """The labels the correction named (the event's and what it was said to be)."""
        return {self.correction["event_label"], self.correction["label"]} - {None}


def undo_correction(store, model_labels, detection: DetectorSettings,
                    event_row: int | None = None, correction_id: int | None = None,
                    adjustments_path: str | Path | None = None,
                    model_version: str = "") -> Undone:
    """Take back the correction of the stored event ``event_row`` (its id in
    ``events list``), or the correction ``correction_id`` (a missed mark's id, printed
    when it was made): exactly one of the two.

    Args:
        store: an open (writable) :class:`~soundwatch.store.EventStore`.
        model_labels: the model's labels (their learnt thresholds are learnt again).
        detection: the settings in force without learnt thresholds, as for
            :func:`~soundwatch.corrections.record.correct_event`.
        adjustments_path: the learnt thresholds file (default: the database's).
        model_version: recorded with a learnt threshold.

    Raises:
        SoundwatchError: no such correction, a reset, or an adjustments file that cannot
            be read (nothing is changed then); one that cannot be written after the row
            is deleted (the error says so).
        ValueError: both or neither of ``event_row`` and ``correction_id``.
    """
    if (event_row is None) == (correction_id is None):
        raise ValueError("pass the event's id or the correction's id, one of them")
    rows = store.corrections()
    if event_row is not None:
        found = [row for row in rows if row["event_row"] == event_row]
        if not found and store.event_by_id(event_row) is None:
            raise SoundwatchError(f"no event with id {event_row} in {store.path}; the ids "
                                  f"are the first column of `{command_name()} events list"
                                  f"{store.db_flag}`")
        if not found:
            raise SoundwatchError(
                f"event {event_row} has no correction to undo (it was never confirmed, "
                f"rejected or relabelled, or that was undone already); `{command_name()} events "
                f"corrections{store.db_flag}` counts the corrections per label")
    else:
        found = [row for row in rows if row["id"] == correction_id]
        if not found:
            raise SoundwatchError(
                f"no correction with id {correction_id} in {store.path} (undone already?); "
                "a missed mark prints its id when it is made, and an event's correction is "
                f"undone by the event's id: `{command_name()} events undo EVENT_ID{store.db_flag}`")
    row = found[-1]
    if row["kind"] not in UNDOABLE_KINDS:
        raise SoundwatchError(
            f"correction {row['id']} is a reset of {row['event_label']!r}, which is not "
            "undone: the corrections it cleared stay in the database, so that label's "
            "new corrections teach it again")
    relearn = sorted({row["event_label"], row["label"]} & set(model_labels))
    path = adjustments_file(store, adjustments_path)
    if relearn:  # an unreadable adjustments file fails here, before anything changes
        read_adjustments(path)
    store.remove_correction(row["id"])
    example = Path(row["example_path"]) if row["example_path"] else None
    deleted = example is not None and example.is_file()
    if deleted:
        example.unlink(missing_ok=True)
    adjustments = {}
    for label in relearn:
        try:
            adjustments[label] = update_adjustment(store, label, detection, path,
                                                   model_version)
        except SoundwatchError as exc:
            raise SoundwatchError(
                f"{exc} The correction itself is undone; once the file can be written, "
                f"`{command_name()} events corrections --rebuild{store.db_flag}` learns the "
                "thresholds again"
            ) from exc
    return Undone(row, deleted, adjustments)
