"""Dataset readers: the layouts people have, turned into one list of labelled clips.

Readers return :class:`ClipRecord` lists and check the layout up front, so a wrong path,
a CSV without the expected columns or a listed file that is missing fails at once with a
message that says what to fix. Audio is not decoded here (see :mod:`.feature_cache`).

Layouts:

- ESC-50: ``root/esc50.csv`` (``filename, fold, category``; ``src_file`` groups takes
  of one recording) and ``root/audio/<filename>``; also found at ``root/meta/esc50.csv``
  as in the original repository.
- UrbanSound8K: ``root/metadata/UrbanSound8K.csv`` (``slice_file_name, fold, class``;
  ``fsID`` groups slices of one recording) and ``root/audio/fold<N>/<slice_file_name>``.
- Folder per class: ``root/<label>/**/*.wav|flac|ogg|mp3`` (GTZAN, music/speech).
- One folder, one label: every audio file under ``dir`` gets ``label``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from soundwatch.audio.files import AUDIO_SUFFIXES
from soundwatch.errors import SoundwatchError


@dataclass(frozen=True)
class ClipRecord:
    """One labelled audio file.

    ``fold`` is the dataset's official fold (None when it has none); ``group`` names the
    recording the clip was cut from, so splits keep a recording's clips together.
    """

    path: Path
    label: str
    dataset: str
    fold: int | None = None
    group: str = ""


def read_esc50(root: str | Path) -> list[ClipRecord]:
    """ESC-50 clips, labels in the order of the CSV's ``target`` ids when present."""
    root = _existing_dir(root, "ESC-50")
    csv_path = _first_existing([root / "esc50.csv", root / "meta" / "esc50.csv"])
    if csv_path is None:
        raise SoundwatchError(
            f"{root} is not an ESC-50 folder: neither esc50.csv nor meta/esc50.csv is there. "
            "Pass the folder that holds esc50.csv and audio/."
        )
    rows = _read_csv(csv_path, ["filename", "fold", "category"], "ESC-50")
    if "target" in rows[0]:
        rows.sort(key=lambda row: (int(row["target"]), row["filename"]))
    records = [
        ClipRecord(
            path=root / "audio" / row["filename"],
            label=row["category"],
            dataset="esc50",
            fold=_int_field(row, "fold", csv_path),
            group="esc50:" + row.get("src_file", row["filename"]),
        )
        for row in rows
    ]
    _check_files_exist(records, csv_path)
    return records


def read_urbansound8k(root: str | Path) -> list[ClipRecord]:
    """UrbanSound8K slices, labels in ``classID`` order when present."""
    root = _existing_dir(root, "UrbanSound8K")
    csv_path = root / "metadata" / "UrbanSound8K.csv"
    if not csv_path.is_file():
        raise SoundwatchError(
            f"{root} is not an UrbanSound8K folder: {csv_path} is missing. Pass the folder "
            "that holds metadata/UrbanSound8K.csv and audio/fold1..fold10."
        )
    rows = _read_csv(csv_path, ["slice_file_name", "fold", "class"], "UrbanSound8K")
    if "classID" in rows[0]:
        rows.sort(key=lambda row: (int(row["classID"]), row["slice_file_name"]))
    records = []
    for row in rows:
        fold = _int_field(row, "fold", csv_path)
        records.append(ClipRecord(
            path=root / "audio" / f"fold{fold}" / row["slice_file_name"],
            label=row["class"],
            dataset="urbansound8k",
            fold=fold,
            group="us8k:" + row.get("fsID", row["slice_file_name"]),
        ))
    _check_files_exist(records, csv_path)
    return records


def read_folder_per_class(root: str | Path) -> list[ClipRecord]:
    """``root/<label>/...audio``: each subfolder is a label (searched recursively)."""
    root = _existing_dir(root, "folder-per-class")
    records = []
    empty = []
    for label_dir in sorted(p for p in root.iterdir()
                            if p.is_dir() and not p.name.startswith(".")):
        files = _audio_files(label_dir)
        if not files:
            empty.append(label_dir.name)
        records += [ClipRecord(path=path, label=label_dir.name, dataset=dataset_name(root),
                               group=f"{root.name}:{path.stem}") for path in files]
    if records and empty:  # a label the user meant to train would be missing from the model
        raise SoundwatchError(
            f"{root}: the label folder(s) {', '.join(empty)} hold no "
            f"{'/'.join(AUDIO_SUFFIXES)} files: add recordings or remove the folder(s)")
    if not records:
        raise SoundwatchError(
            f"no audio in {root}: expected subfolders named after labels holding "
            f"{'/'.join(AUDIO_SUFFIXES)} files, e.g. {root}/dog/bark1.wav"
        )
    return records


def read_label_folder(root: str | Path, label: str) -> list[ClipRecord]:
    """Every audio file under ``root`` (recursively) labelled ``label``."""
    root = _existing_dir(root, f"{label!r}")
    if not label:
        raise SoundwatchError(f"empty label for folder {root}; use LABEL=FOLDER")
    records = [ClipRecord(path=path, label=label, dataset=dataset_name(root),
                          group=f"{root.name}:{path.stem}") for path in _audio_files(root)]
    if not records:
        raise SoundwatchError(f"no {'/'.join(AUDIO_SUFFIXES)} files in {root}")
    return records


def read_background_folder(root: str | Path) -> list[ClipRecord]:
    """Noise recordings to mix events into; their label is the empty string."""
    root = _existing_dir(root, "background")
    records = [ClipRecord(path=path, label="", dataset="background", group=path.stem)
               for path in _audio_files(root)]
    if not records:
        raise SoundwatchError(f"no {'/'.join(AUDIO_SUFFIXES)} files in background folder {root}")
    return records


def dataset_name(root: Path) -> str:
    """A folder's name for the model card, with its parent when the name alone says
    nothing (``speech/audio`` rather than ``audio``)."""
    generic = {"audio", "wav", "wavs", "clips", "files", "data", "sounds"}
    return f"{root.parent.name}/{root.name}" if root.name.lower() in generic else root.name


def labels_in_order(records: Iterable[ClipRecord]) -> list[str]:
    """Labels in order of first appearance (datasets keep their own class order)."""
    seen: dict[str, None] = {}
    for record in records:
        if record.label:
            seen.setdefault(record.label, None)
    return list(seen)


def parse_label_folder(text: str) -> tuple[str, str]:
    """``"speech=/data/speech"`` -> ("speech", "/data/speech")."""
    label, sep, folder = text.partition("=")
    if not sep or not label.strip() or not folder.strip():
        raise SoundwatchError(f"--folder takes LABEL=FOLDER, e.g. speech=data/speech; "
                              f"got {text!r}")
    return label.strip(), folder.strip()


def _existing_dir(root: str | Path, what: str) -> Path:
    root = Path(root).expanduser()
    if not root.exists():
        raise SoundwatchError(f"{what} dataset folder not found: {root}. Check the path.")
    if not root.is_dir():
        raise SoundwatchError(f"{what} dataset path {root} is a file; pass its folder.")
    return root


def _first_existing(paths: Sequence[Path]) -> Path | None:
    return next((p for p in paths if p.is_file()), None)


def _read_csv(path: Path, required: list[str], what: str) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SoundwatchError(f"cannot read {what} metadata {path}: {exc}") from exc
    missing = [c for c in required if c not in columns]
    if missing:
        raise SoundwatchError(
            f"{what} metadata {path} lacks the columns {missing} (it has {columns}); "
            f"the reader needs {required}. Is this the original {what} CSV?"
        )
    if not rows:
        raise SoundwatchError(f"{what} metadata {path} has no rows")
    return rows


def _int_field(row: dict[str, str], key: str, path: Path) -> int:
    try:
        return int(row[key])
    except (TypeError, ValueError) as exc:
        raise SoundwatchError(f"{path}: column {key!r} must be an integer, got "
                              f"{row[key]!r} in row {row}") from exc


def _check_files_exist(records: list[ClipRecord], csv_path: Path) -> None:
    missing = [r.path for r in records if not r.path.is_file()]
    if missing:
        shown = ", ".join(str(p) for p in missing[:3])
        raise SoundwatchError(
            f"{len(missing)} of {len(records)} files listed in {csv_path} are missing "
            f"(e.g. {shown}). Check that the audio folder is complete and next to the CSV."
        )


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
