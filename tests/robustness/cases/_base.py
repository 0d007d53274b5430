"""Shared pieces of the robustness cases: a tiny model and data that train in a blink."""

import torch
from torch import nn

from nnarch.topic import Splits


class Tiny(nn.Module):
    def __init__(self, out_features=1):
        super().__init__()
        self.fc = nn.Linear(1, out_features)

    def forward(self, x):
        return self.fc(x)


def make_data(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(16, 1, generator=g)
    return Splits(train=(x[:12], 2 * x[:12]), test=(x[12:], 2 * x[12:]))
