"""A small dialog that asks which label a sound was: an editable combo box of the
model's labels and the user's sounds, whose completer matches any part of a name
("ring" finds ``telephone_ring``), so a model with hundreds of labels stays usable.

Used by "Missed one here…" (:mod:`soundwatch.gui.stretch`). Runs on the Qt thread.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QVBoxLayout,
)


class LabelChoiceDialog(QDialog):
    """Ask for one label.

    Args:
        title: the window title.
        prompt: the question above the box.
        choices: the labels offered, in the order shown (the user's sounds first).
        parent: the window it belongs to.
    """

    def __init__(self, title: str, prompt: str, choices: Sequence[str], parent=None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.prompt = QLabel(prompt)
        self.prompt.setWordWrap(True)
        self.combo = QComboBox()
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.addItems(list(choices))
        self.combo.setCurrentIndex(-1)  # nothing chosen until the user chooses
        self.combo.lineEdit().setPlaceholderText("Type to filter, e.g. ring")
        completer = QCompleter(list(choices), self.combo)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.combo.setCompleter(completer)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.prompt)
        layout.addWidget(self.combo)
        layout.addWidget(self.buttons)
        self.resize(420, self.sizeHint().height())

    @property
    def label(self) -> str:
        """The text chosen or typed, stripped ("" when none)."""
        return self.combo.currentText().strip()


def ask_label(parent, title: str, prompt: str, choices: Sequence[str]) -> str | None:
    """Show a :class:`LabelChoiceDialog` and wait; the label chosen ("" when OK was
    pressed with nothing chosen), or None when the user cancelled."""
    dialog = LabelChoiceDialog(title, prompt, choices, parent)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.label
    finally:
        dialog.deleteLater()
