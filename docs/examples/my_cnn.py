"""A researcher's own CNN as a SEM Explorer plug-in (``--plugin docs/examples/my_cnn.py``, ``SEM_PLUGINS``).

Functional ``F.relu`` calls on purpose: the saliency attacks smooth them for their gradient, DeepLIFT refuses them.
"""
import torch.nn as nn
import torch.nn.functional as F

from sem_core import register_architecture


class MyCNN(nn.Module):
    """[B,1,28,28] in [0,1] -> logits [B,10]."""

    def __init__(self, width: int = 8):
        super().__init__()
        self.init_kwargs = {"width": width}                  # what save_checkpoint records as the config
        self.conv1, self.conv2 = nn.Conv2d(1, width, 3, padding=1), nn.Conv2d(width, 2 * width, 3, padding=1)
        self.fc = nn.Linear(2 * width * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


register_architecture(MyCNN)
