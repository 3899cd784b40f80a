"""The desktop window (PySide6 + pyqtgraph). Only this package imports Qt.

Start it with ``soundwatch`` or ``soundwatch gui`` (see :mod:`soundwatch.gui.app`); the
threads and who may touch what are described in :mod:`soundwatch.gui.window`.
"""
