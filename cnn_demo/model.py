"""The CNN of the tutorial this project grew out of, all of it in this one file.

    input   1 x 28 x 28
    Conv(1->16, 5)  ReLU   16 x 24 x 24
    Conv(16->32, 5) ReLU   32 x 20 x 20
    MaxPool(2)             32 x 10 x 10
    Conv(32->64, 5) ReLU   64 x  6 x  6
    MaxPool(2)             64 x  3 x  3   -> flatten 576
    Linear(576->100) ReLU  100
    Linear(100->10)        10 logits

The attribute names `layer` and `fc_layer` and their indices are the tutorial's, so a
`state_dict` saved from its notebook loads into this class unchanged.
"""

import torch
from torch import nn

# Names for the layers of `layer` and `fc_layer`, in the order the data flows. The Inspect
# page and the training snapshots use them; the indices are those of the tutorial.
CONV_LAYERS = {"conv1": 0, "conv2": 2, "conv3": 5}
STAGES = {
    "conv1": ("layer", 0),
    "relu1": ("layer", 1),
    "conv2": ("layer", 2),
    "relu2": ("layer", 3),
    "pool1": ("layer", 4),
    "conv3": ("layer", 5),
    "relu3": ("layer", 6),
    "pool2": ("layer", 7),
    "hidden": ("fc_layer", 1),  # after the ReLU: the 100 hidden units
    "logits": ("fc_layer", 2),
}
SPATIAL = [name for name, (seq, _) in STAGES.items() if seq == "layer"]  # stages with (C, H, W) maps


class SeedCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Sequential(
            nn.Conv2d(1, 16, 5),  # (B, 16, 24, 24)
            nn.ReLU(),
            nn.Conv2d(16, 32, 5),  # (B, 32, 20, 20)
            nn.ReLU(),
            nn.MaxPool2d(2, 2),  # (B, 32, 10, 10)
            nn.Conv2d(32, 64, 5),  # (B, 64, 6, 6)
            nn.ReLU(),
            nn.MaxPool2d(2, 2),  # (B, 64, 3, 3)
        )
        self.fc_layer = nn.Sequential(
            nn.Linear(64 * 3 * 3, 100),
            nn.ReLU(),
            nn.Linear(100, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, 28, 28) floats in [0, 1], ink = 1  ->  (B, 10) logits."""
        out = self.layer(x)
        # The tutorial flattened with the global batch size, which broke on a short last
        # batch or a single image; flatten(1) keeps whatever batch size comes in.
        out = out.flatten(1)  # (B, 576)
        return self.fc_layer(out)


def conv_weights(model: SeedCNN) -> dict[str, torch.Tensor]:
    """The kernels of each conv layer: conv1 (16,1,5,5), conv2 (32,16,5,5), conv3 (64,32,5,5)."""
    return {name: model.layer[i].weight.detach() for name, i in CONV_LAYERS.items()}


def stage_module(model: SeedCNN, stage: str) -> nn.Module:
    """The module whose output is `stage`, e.g. "pool1" -> model.layer[4]."""
    seq, index = STAGES[stage]
    return getattr(model, seq)[index]
