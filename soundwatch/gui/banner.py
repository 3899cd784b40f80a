"""A message strip under the controls: device errors with a Retry, or a notice.

Errors from the device (unplugged, busy, no such device) land here instead of a dialog
or a console traceback; Retry asks the window to open the source again.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from soundwatch.gui import theme

STYLES = {
    "error": f"background: #3a1d22; border: 1px solid {theme.BAD}; border-radius: 4px;",
    "notice": f"background: #2f2a1a; border: 1px solid {theme.WARN}; border-radius: 4px;",
}


class MessageBanner(QFrame):
    """Hidden until :meth:`show_message`; ``retry_requested`` when Retry is clicked."""

    retry_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self.text = QLabel("")
        self.text.setWordWrap(True)
        layout.addWidget(self.text, 1)
        self.retry_button = QPushButton("Retry")
        layout.addWidget(self.retry_button)
        self.close_button = QPushButton("✕")
        self.close_button.setFixedWidth(28)
        self.close_button.setToolTip("Hide this message")
        layout.addWidget(self.close_button)
        self.kind = ""
        self.retry_button.clicked.connect(self.retry_requested)
        self.close_button.clicked.connect(self.clear)
        self.hide()

    def show_message(self, text: str, kind: str = "error", retry: bool = True) -> None:
        if kind != self.kind:
            self.setStyleSheet(f"MessageBanner {{ {STYLES[kind]} }}")
            self.kind = kind
        if self.text.text() != text:
            self.text.setText(text)
        self.retry_button.setVisible(retry)
        self.show()

    def clear(self) -> None:
        self.text.setText("")
        self.kind = ""
        self.hide()

    @property
    def message(self) -> str:
        """The text shown now ("" when hidden)."""
        return self.text.text()
