"""A fixed-size history of columns that reads back as one contiguous, time-ordered array.

Each column is written twice, ``n_columns`` apart, in a buffer of twice the length, so
the newest ``n_columns`` always form one contiguous slice: scrolling a plot costs a slice,
never an ``np.roll`` of the whole image (the double-length trick of Friture's ring buffer).
"""

from __future__ import annotations

import numpy as np


class ColumnRing:
    """The newest ``n_columns`` feature columns, readable as one contiguous array.

    Args:
        n_columns: columns shown (N).
        n_rows: values per column (mel bins).
        fill: value of columns not yet written: a scalar, or one value per row.
        dtype: element type (float32 for images, float64 for stream times).
    """

    def __init__(self, n_columns: int, n_rows: int, fill: float | np.ndarray,
                 dtype=np.float32):
        self.n_columns = int(n_columns)
        self.n_rows = int(n_rows)
        self.fill = fill
        self._buffer = np.empty((2 * self.n_columns, self.n_rows), dtype=dtype)
        self._buffer[...] = fill
        self.written = 0  # columns ever appended

    def clear(self) -> None:
        self._buffer[...] = self.fill
        self.written = 0

    def append(self, columns: np.ndarray) -> None:
        """Add (k, n_rows) columns, oldest first."""
        k = len(columns)
        if k == 0:
            return
        if k > self.n_columns:
            self.written += k - self.n_columns
            columns = columns[-self.n_columns:]
            k = self.n_columns
        start = self.written % self.n_columns
        head = min(k, self.n_columns - start)
        for offset in (0, self.n_columns):  # both copies, so any N-window is contiguous
            self._buffer[offset + start:offset + start + head] = columns[:head]
            if head < k:
                self._buffer[offset:offset + k - head] = columns[head:]
        self.written += k

    def view(self) -> np.ndarray:
        """(n_columns, n_rows) C-contiguous view, oldest column first (no copy)."""
        start = self.written % self.n_columns
        return self._buffer[start:start + self.n_columns]

    def recent(self) -> np.ndarray:
        """The columns written so far (at most n_columns), oldest first: a view."""
        return self.view()[self.n_columns - min(self.written, self.n_columns):]
