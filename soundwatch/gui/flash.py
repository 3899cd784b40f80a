"""A visual alarm for people who cannot hear: the whole window flashes for urgent alerts.

Off by default (``[alerts.desktop] flash = true`` turns it on). The overlay covers the
window's central area, blinks ``FLASHES`` times and hides; it never takes focus or input.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtWidgets import QLabel, QWidget

FLASHES = 6
FLASH_MS = 300  # on and off half-periods


class FlashOverlay(QLabel):
    """A red, labelled overlay over ``parent`` that blinks on :meth:`flash`."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setStyleSheet("background: rgba(214, 39, 40, 200); color: white; "
                           "font-size: 48px; font-weight: bold;")
        self.hide()
        self.flashes = 0  # flashes started (for tests)
        self._remaining = 0
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._toggle)
        parent.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # Qt's name
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize:
            self.setGeometry(watched.rect())  # always the whole window
        return False

    def flash(self, text: str) -> None:
        self.flashes += 1
        self.setText(text)
        self.setGeometry(self.parentWidget().rect())
        self.raise_()
        self._remaining = 2 * FLASHES
        self.show()
        self._timer.start(FLASH_MS)

    def _toggle(self) -> None:
        self._remaining -= 1
        if self._remaining <= 0:
            self._timer.stop()
            self.hide()
            return
        self.setVisible(not self.isVisible())
