"""The scratch CNN for 32x32 vehicle images."""

from __future__ import annotations

from torch import Tensor, nn

BASE_CHANNELS = (16, 32, 64)


def conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    """A 3x3 convolution with batch normalisation and ReLU, keeping spatial size."""
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class VehicleNet(nn.Module):
    """Three conv blocks (two convs each, then 2x2 max pooling), global average pooling, dropout, linear.

    `width` multiplies the channel counts (16, 32, 64).
    """

    def __init__(self, num_classes: int = 2, width: float = 2.0, dropout: float = 0.3) -> None:
        super().__init__()
        channels = [max(1, round(base * width)) for base in BASE_CHANNELS]
        layers: list[nn.Module] = []
        in_channels = 3
        for out_channels in channels:
            layers += conv_bn_relu(in_channels, out_channels)
            layers += conv_bn_relu(out_channels, out_channels)
            layers.append(nn.MaxPool2d(2))
            in_channels = out_channels
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(in_channels, num_classes)

    def forward(self, images: Tensor) -> Tensor:
        features = self.pool(self.features(images)).flatten(1)
        return self.classifier(self.dropout(features))
