"""A researcher's plug-in for the tests: a small CNN (functional F.relu, keyword-argument constructor) in a file of
its own, and a fixture that writes it and leaves the registry and ``sys.modules`` as they were."""
from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from sem_core.models.registry import MODELS

PLUGIN_SOURCE = '''
import torch.nn as nn
import torch.nn.functional as F

from sem_core.models import register_architecture


class SmallCNN(nn.Module):
    """conv3x3(width) -> relu -> maxpool 2 -> dense(hidden) -> relu -> logits [B,10]; ReLU as F.relu calls."""

    input_shape = (1, 28, 28)
    n_classes = 10

    def __init__(self, width: int = 4, hidden: int = 16):
        super().__init__()
        self.init_kwargs = {"width": width, "hidden": hidden}
        self.conv = nn.Conv2d(1, width, 3, padding=1)
        self.fc1 = nn.Linear(width * 14 * 14, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.conv(x)), 2)   # [B,width,14,14]
        return self.fc2(F.relu(self.fc1(h.flatten(1))))


register_architecture(SmallCNN)
'''

#: what the app and the CLI need on a card besides the weights: an untrained model's honest facts
CARD = {"data": {"source": "subset", "n_train": 0, "n_test": 1000, "description": "untrained (a test's model)"},
        "test_accuracy": 0.1}


def write_module(folder: Path, source: str, stem: str = "user_models") -> Path:
    """``source`` in ``folder/<stem>_<random>.py`` (a module name no other test uses); returns its path."""
    path = Path(folder) / f"{stem}_{uuid.uuid4().hex[:8]}.py"
    path.write_text(source)
    return path


@pytest.fixture
def isolated_registry(monkeypatch):
    """The model registry as it was before the test, afterwards (plug-ins register into it)."""
    monkeypatch.setattr(MODELS, "_items", dict(MODELS._items))


@pytest.fixture
def plugin_file(tmp_path, isolated_registry):
    """The SmallCNN plug-in written to a fresh file (not imported yet); its module is forgotten afterwards."""
    path = write_module(tmp_path, PLUGIN_SOURCE)
    yield path
    sys.modules.pop(path.stem, None)
