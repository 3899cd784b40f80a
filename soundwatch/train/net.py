"""The sound classifier network: a small CNN on log-mel windows, with an embedding output.

Input (batch, 1, window_frames, n_features) raw features (dB), as the app feeds them.
The per-band mean/std normalisation is a buffer inside the network, so the exported ONNX
graph takes unnormalised features and no statistics travel beside the model file.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class ConvBlock(nn.Sequential):
    """conv3x3 -> batch-norm -> ReLU, twice when ``double``, then 2x2 max-pooling."""

    def __init__(self, in_channels: int, out_channels: int, pool: bool = True,
                 double: bool = False):
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        ]
        if double:
            layers += [
                nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
            ]
        if pool:
            layers.append(nn.MaxPool2d(2))
        super().__init__(*layers)


class SoundNet(nn.Module):
    """CNN: normalise -> conv blocks -> global pooling -> embedding -> class logits.

    Args:
        n_features: values per frame (mel bands or MFCCs).
        n_labels: number of output classes.
        channels: output channels of each conv block (each halves time and frequency).
        embedding_dim: size of the embedding output.
        feature_mean, feature_std: (n_features,) statistics of the training features.
    """

    def __init__(self, n_features: int, n_labels: int,
                 channels: tuple[int, ...] = (32, 64, 128, 192), embedding_dim: int = 128,
                 dropout: float = 0.3, feature_mean=None, feature_std=None,
                 double_from: int = 2):
        super().__init__()
        self.n_double_from = double_from
        self.n_features = n_features
        self.n_labels = n_labels
        self.channels = tuple(channels)
        self.embedding_dim = embedding_dim
        mean = torch.zeros(n_features) if feature_mean is None else torch.as_tensor(feature_mean)
        std = torch.ones(n_features) if feature_std is None else torch.as_tensor(feature_std)
        self.register_buffer("feature_mean", mean.float().reshape(1, 1, 1, n_features))
        self.register_buffer("feature_std", std.float().clamp_min(1e-3)
                             .reshape(1, 1, 1, n_features))
        blocks = []
        in_channels = 1
        for i, out_channels in enumerate(self.channels):
            blocks.append(ConvBlock(in_channels, out_channels, pool=i < len(self.channels) - 1,
                                    double=i >= self.n_double_from))
            in_channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.embed = nn.Sequential(nn.Linear(2 * in_channels, embedding_dim),
                                   nn.BatchNorm1d(embedding_dim), nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(dropout)
        self.classify = nn.Linear(embedding_dim, n_labels)
        # Start every score near a rare positive's prior instead of 0.5, so the first
        # epochs are not spent pushing 51 of 52 outputs down (as in RetinaNet).
        nn.init.constant_(self.classify.bias, -math.log(n_labels - 1 if n_labels > 1 else 1))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, 1, frames, n_features) dB -> (logits (batch, n_labels),
        embedding (batch, embedding_dim))."""
        x = (features - self.feature_mean) / self.feature_std
        x = self.blocks(x)  # (batch, channels, frames', features')
        x = x.mean(dim=3)  # average over frequency: (batch, channels, frames')
        pooled = torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1)  # (batch, 2 * channels)
        embedding = self.embed(pooled)
        return self.classify(self.dropout(embedding)), embedding

    def config(self) -> dict:
        """Constructor arguments (without statistics) to rebuild the network."""
        return {"n_features": self.n_features, "n_labels": self.n_labels,
                "channels": list(self.channels), "embedding_dim": self.embedding_dim}


class ScoringNet(nn.Module):
    """What is exported: features -> (scores in [0, 1] after sigmoid, embedding)."""

    def __init__(self, net: SoundNet):
        super().__init__()
        self.net = net

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, embedding = self.net(features)
        return torch.sigmoid(logits), embedding


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
