"""The compact U-Net behind :class:`~sidkit.learn.AtomSegmenter`.

Imported only after torch is known to be installed (see ``_deps.require_torch``).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["UNet"]


def _block(c_in: int, c_out: int, batch_norm: bool, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for k, (a, b) in enumerate(((c_in, c_out), (c_out, c_out))):
        layers.append(nn.Conv2d(a, b, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(b))
        layers.append(nn.ReLU(inplace=True))
        if dropout > 0 and k == 0:
            layers.append(nn.Dropout2d(dropout))
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """U-Net: ``depth`` down-sampling steps, ``width`` channels at full
    resolution doubling at each step, skip connections, bilinear up-sampling.

    Input ``(n, in_channels, h, w)`` with ``h`` and ``w`` multiples of
    ``2**depth``; output logits ``(n, out_channels, h, w)``.
    """

    def __init__(self, depth: int = 3, width: int = 16, *, in_channels: int = 1,
                 out_channels: int = 1, batch_norm: bool = True, dropout: float = 0.1) -> None:
        super().__init__()
        self.depth = depth
        chans = [width * 2**k for k in range(depth + 1)]
        self.down = nn.ModuleList()
        c = in_channels
        for k in range(depth):
            self.down.append(_block(c, chans[k], batch_norm, dropout if k else 0.0))
            c = chans[k]
        self.bottom = _block(c, chans[depth], batch_norm, dropout)
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList()
        self.reduce = nn.ModuleList()
        for k in reversed(range(depth)):
            self.reduce.append(nn.Conv2d(chans[k + 1], chans[k], 1))
            self.up.append(_block(2 * chans[k], chans[k], batch_norm, 0.0))
        self.head = nn.Conv2d(chans[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        for reduce, block, skip in zip(self.reduce, self.up, reversed(skips)):
            x = nn.functional.interpolate(x, size=skip.shape[-2:], mode="bilinear",
                                          align_corners=False)
            x = block(torch.cat([reduce(x), skip], dim=1))
        return self.head(x)
