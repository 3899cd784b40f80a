"""The live spectrogram: a scrolling log-mel image of the last few seconds.

Drawing cost is bounded per hop: new columns go into preallocated double-length rings
(:class:`ColumnRing`, each column written twice, N apart), so the last N columns are
always one contiguous slice; no ``np.roll`` of the image. Each column is coloured once,
when it arrives, through fixed colour levels and a 256-entry lookup table (no autoLevels,
no per-frame colour mapping), and the image is redrawn only on the window's ~30 fps
timer, and only when columns arrived.

Axes: x is seconds relative to now (-duration .. 0); y is mel bins, labelled in Hz by
:class:`MelFrequencyAxis` at the true position of each frequency on the mel scale.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QVBoxLayout, QWidget

from soundwatch.features import FeatureSpec
from soundwatch.gui import theme
from soundwatch.gui.column_ring import ColumnRing

HZ_TICKS = (100, 200, 500, 1000, 2000, 3000, 4000, 6000, 8000, 12000, 16000)


def hz_to_mel_position(frequency_hz: np.ndarray | float, spec: FeatureSpec) -> np.ndarray:
    """Where a frequency sits on the image's y axis: row ``i`` spans [i, i+1) and mel bin
    ``i``'s centre frequency maps to ``i + 0.5`` (centres as in ``librosa.mel_frequencies``,
    on the spec's own mel scale: Slaney or HTK)."""
    import librosa

    htk = spec.mel_scale == "htk"
    mel_min = librosa.hz_to_mel(spec.fmin_hz, htk=htk)
    mel_max = librosa.hz_to_mel(spec.fmax_hz, htk=htk)
    step = (mel_max - mel_min) / (spec.n_mels + 1)
    mel = librosa.hz_to_mel(np.asarray(frequency_hz, dtype=np.float64), htk=htk)
    return (mel - mel_min) / step - 0.5


def db_per_feature_unit(spec: FeatureSpec) -> float:
    """Factor from the spec's log features to dB: 1 for dB features; 20 / ln 10 for
    YAMNet's ln(magnitude) (a magnitude ratio in dB is 20 log10)."""
    return 20.0 / np.log(10.0) if spec.log == "ln" else 1.0


class MelFrequencyAxis(pg.AxisItem):
    """A y axis over mel-bin rows whose ticks are round frequencies, labelled in Hz/kHz."""

    def __init__(self, spec: FeatureSpec, **kwargs):
        super().__init__("left", **kwargs)
        self.spec = spec
        ticks_hz = [f for f in HZ_TICKS if spec.fmin_hz <= f <= spec.fmax_hz]
        positions = hz_to_mel_position(np.array(ticks_hz, dtype=float), spec)
        self._ticks = list(zip(positions.tolist(), ticks_hz, strict=True))

    def tickValues(self, minVal, maxVal, size):
        visible = [p for p, _ in self._ticks if minVal <= p <= maxVal]
        return [(1.0, visible)]

    def tickStrings(self, values, scale, spacing):
        labels = {round(p, 6): hz for p, hz in self._ticks}
        out = []
        for value in values:
            hz = labels.get(round(value, 6))
            if hz is None:
                out.append("")
            else:
                out.append(f"{hz // 1000}k" if hz >= 1000 and hz % 1000 == 0 else
                           f"{hz / 1000:g}k" if hz >= 1000 else f"{hz}")
        return out


class SpectrogramView(QWidget):
    """Scrolling log-mel spectrogram with a dB colour bar.

    It wraps (rather than subclasses) a ``pg.GraphicsLayoutWidget``: pyqtgraph binds
    methods such as ``clear`` onto its widgets' instances, which would shadow ours.

    Args:
        spec: the feature spec of the frames it will receive (log-mel expected; MFCC
            frames are shown by coefficient index).
        duration_s: seconds of history shown.
        levels_db: fixed colour range.
        pool: frames max-pooled into one image column. 10 s of 10 ms frames are 1000
            columns, more than the widget has pixels: drawing would skip columns and a
            one-frame click could vanish; pooling keeps its peak.
    """

    def __init__(self, spec: FeatureSpec, duration_s: float = 10.0,
                 levels_db: tuple[float, float] = theme.SPECTROGRAM_LEVELS_DB, pool: int = 2,
                 parent=None):
        super().__init__(parent)
        self.levels_db = levels_db
        self.duration_s = float(duration_s)
        self.pool = max(1, int(pool))
        self.setMinimumHeight(180)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setAntialiasing(False)  # crisp mel bands, no blur between rows
        self.graphics.ci.layout.setContentsMargins(4, 4, 4, 4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        self._plot: pg.PlotItem | None = None
        self._bar: pg.ColorBarItem | None = None
        self.image: pg.ImageItem | None = None
        self.redraws = 0
        self._dirty = False
        self.configure(spec)

    def configure(self, spec: FeatureSpec) -> None:
        """(Re)build for a feature spec: a new stream may have another hop or mel count."""
        self.spec = spec
        is_mel = spec.n_mfcc is None
        self.to_db = np.float32(db_per_feature_unit(spec))
        self.levels = self.levels_db if is_mel else (-50.0, 50.0)
        if spec.log == "ln":  # magnitude dB: silence sits at 20 log10(log_offset)
            floor_db = float(spec.silence_value * self.to_db)
            self.levels = (floor_db, floor_db + self.levels_db[1] - self.levels_db[0])
        colour_map = pg.colormap.get(theme.SPECTROGRAM_COLOURMAP)
        self.lut = colour_map.getLookupTable(nPts=256, alpha=True)  # (256, 4) uint8 RGBA
        self.column_s = spec.hop_s * self.pool
        self.n_columns = max(1, int(round(self.duration_s / self.column_s)))
        n = spec.n_features
        self.ring = ColumnRing(self.n_columns, n, fill=self.levels[0])  # dB, as received
        self.colours = ColumnRing(self.n_columns, n * 4, fill=np.tile(self.lut[0], n),
                                  dtype=np.uint8)  # the same columns as RGBA pixels
        self._pending = np.zeros((0, n), dtype=np.float32)  # < pool frames
        self.graphics.ci.clear()
        axis = MelFrequencyAxis(spec) if is_mel else pg.AxisItem("left")
        plot = self.graphics.ci.addPlot(row=0, col=0, axisItems={"left": axis})
        plot.setLabel("left", "frequency (Hz)" if is_mel else "MFCC coefficient")
        plot.setLabel("bottom", "time (s)")
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        # RGBA pixels, no levels, no lookup table: pyqtgraph hands them to Qt as they are,
        # and Qt draws such an image ~5x faster than an indexed one.
        image = pg.ImageItem(axisOrder="col-major")
        plot.addItem(image)
        width_s = self.n_columns * self.column_s
        image.setImage(self._pixels(), autoLevels=False)
        image.setRect(QRectF(-width_s, 0.0, width_s, float(n)))
        plot.setXRange(-width_s, 0.0, padding=0)
        plot.setYRange(0.0, float(n), padding=0)
        bar = pg.ColorBarItem(values=self.levels, colorMap=colour_map, interactive=False,
                              label="dB" if is_mel else "", width=14)
        # Placed as setImageItem(insert_in=plot) would, but not linked: a linked bar would
        # give the image levels and a lookup table again.
        plot.layout.addItem(bar, 2, 5)
        plot.layout.setColumnFixedWidth(4, 5)
        self._plot, self._bar, self.image = plot, bar, image
        self._dirty = False

    def clear(self) -> None:
        self.ring.clear()
        self.colours.clear()
        self._pending = self._pending[:0]
        self._dirty = True

    def append(self, frames: np.ndarray) -> None:
        """Add (k, n_features) frames for the next redraw (cheap: copies into the rings).
        Every ``pool`` frames become one column, their element-wise maximum, coloured
        once here rather than at every redraw."""
        if len(frames) == 0:
            return
        if len(self._pending):
            frames = np.concatenate([self._pending, frames])
        n_full = len(frames) // self.pool * self.pool
        self._pending = frames[n_full:].copy()
        if n_full:
            columns = frames[:n_full].reshape(-1, self.pool, frames.shape[1]).max(axis=1)
            columns = columns * self.to_db
            self.ring.append(columns)
            low, high = self.levels
            index = np.clip((columns - low) * (255.0 / (high - low)), 0, 255).astype(np.uint8)
            self.colours.append(self.lut[index].reshape(len(columns), -1))
            self._dirty = True

    def redraw(self) -> bool:
        """Push the newest columns to the image if some arrived; True if it drew."""
        if not self._dirty or self.image is None:
            return False
        self.image.setImage(self._pixels(), autoLevels=False)
        self._dirty = False
        self.redraws += 1
        return True

    def _pixels(self) -> np.ndarray:
        """(n_columns, n_features, 4) uint8 view of the coloured ring, oldest first."""
        return self.colours.view().reshape(self.n_columns, self.spec.n_features, 4)

    def pixel_geometry(self, relative_to: QWidget) -> dict:
        """Where the image lies in ``relative_to`` 's pixels, and the pixel row of each
        tick frequency (for tests that read a screenshot)."""
        view_box = self._plot.getViewBox()
        scene_rect = view_box.mapViewToScene(self.image.mapRectToView(
            self.image.boundingRect())).boundingRect()
        top_left = self.graphics.mapFromScene(scene_rect.topLeft())
        bottom_right = self.graphics.mapFromScene(scene_rect.bottomRight())
        origin = self.graphics.mapTo(relative_to, top_left)
        end = self.graphics.mapTo(relative_to, bottom_right)
        rows_hz = {}
        for hz in HZ_TICKS:
            if self.spec.fmin_hz <= hz <= self.spec.fmax_hz:
                y_view = float(hz_to_mel_position(hz, self.spec))
                point = view_box.mapViewToScene(pg.Point(0.0, y_view))
                rows_hz[str(hz)] = self.graphics.mapTo(
                    relative_to, self.graphics.mapFromScene(point)).y()
        return {"spectrogram_image": [origin.x(), origin.y(), end.x(), end.y()],
                "spectrogram_row_of_hz": rows_hz}

    def row_of_hz(self, frequency_hz: float) -> int:
        """The image row (mel bin) that shows ``frequency_hz``."""
        position = float(hz_to_mel_position(frequency_hz, self.spec))
        return int(np.clip(np.floor(position), 0, self.spec.n_features - 1))

    def newest_columns(self, k: int) -> np.ndarray:
        """Copy of the newest ``k`` columns as drawn (each ``column_s`` seconds long):
        (k, n_features) float32."""
        return self.ring.view()[-k:].copy()
