"""The training recipe's settings, importable without torch (the CLI builds its flags
from these defaults)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from soundwatch.train.augment import AugmentConfig


@dataclass
class TrainConfig:
    """The recipe. Defaults are what the shipped model was trained with."""

    window_frames: int = 96  # 96 frames of 10 ms: 0.98 s windows
    hop_frames: int = 25  # default hop between windows in live use and evaluation
    validation_hop_frames: int = 48  # coarser hop for the per-epoch validation (speed)
    channels: tuple[int, ...] = (32, 64, 128, 256)
    embedding_dim: int = 128
    dropout: float = 0.3
    epochs: int = 200  # 30 -> 100 epochs gave +16 points; the 100-epoch runs peaked at 83-100
    batch_size: int = 32
    learning_rate: float = 2e-3
    weight_decay: float = 1e-2
    warmup_epochs: int = 2
    patience: int = 60  # epochs without a better validation score before stopping
    silence_margin_db: float = 20.0
    background_fraction: float = 0.7  # share of each background file used for training
    crops_per_label: int | None = None
    negatives: int | None = None
    seed: int = 0
    threads: int = 2
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def to_dict(self) -> dict:
        values = asdict(self)
        values["channels"] = list(self.channels)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        values = dict(values)
        values["augment"] = AugmentConfig(**values.get("augment", {}))
        values["channels"] = tuple(values.get("channels", cls.channels))
        return cls(**values)


@dataclass(frozen=True)
class HeadConfig:
    """The project head's recipe (``--init yamnet``); the defaults are the shipped ones."""

    hidden: int = 512  # MLP hidden units (0: a linear head)
    dropout: float = 0.5
    epochs: int = 20
    batch_size: int = 1024
    learning_rate: float = 3e-3
    weight_decay: float = 1e-3
    hop_frames: int = 24  # hop between cached training windows (0.24 s)
    lead_frames: int = 72  # windows start up to this many frames before a clip (0.72 s)
    min_active_frames: int = 10  # loud clip frames a positive window must hold (0.1 s)
    loud_margin_db: float = 20.0  # a frame is loud within this of the clip's loudest
    noisy_copies: int = 1  # extra copy of every clip mixed into background noise
    snr_db_min: float = 0.0
    snr_db_max: float = 20.0
    # extra copies of every clip cut to one short excerpt (at most short_max_frames, around
    # a loud frame) in background noise at short_snr_db_min..max: short sounds in noise,
    # as a room hears a cough or a drawer (pretrained.short_training_windows)
    short_copies: int = 0
    short_max_frames: int = 100
    short_snr_db_min: float = -6.0
    short_snr_db_max: float = 6.0
    # extra noisy copies of every clip with the whole scene quiet_gain_db_min..max quieter:
    # the sound further from the microphone (pretrained.quiet_training_windows)
    quiet_copies: int = 0
    quiet_gain_db_min: float = -30.0
    quiet_gain_db_max: float = -10.0
    background_fraction: float = 0.7  # share of each background file used in training
    pooling: str = "mean"  # over YAMNet's time cells: "mean" or "mean+max" (pretrained.py)
    # YAMNet's last layers copied into the project branch and fine-tuned (top_tuning.py);
    # 0: the head alone learns, on YAMNet's embedding
    tune_top_layers: int = 0
    top_learning_rate_factor: float = 0.1  # their learning rate, relative to the head's
    # mix each training batch with itself shuffled, inputs and targets alike, with
    # Beta(mixup_alpha, mixup_alpha) weights; the inputs are the cached embeddings or
    # shared-layer activations, so this is "manifold mixup" (Verma et al., ICML 2019);
    # 0: off
    mixup_alpha: float = 0.0
    # ESC-50 labels with AudioSet twins (home_labels.PROXY_LABELS) score the higher of the
    # project head's score and their twins' calibrated AudioSet score (PretrainedSoundNet)
    audioset_twins: bool = False
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)
