"""Models this project did not write: what a researcher brings. None subclasses a shipped model.

- ``FunctionalCNN``: a plain ``nn.Module`` with ``F.relu`` and ``F.max_pool2d`` in ``forward`` (MNIST-shaped).
- ``ColourNet``: a 3×32×32 colour classifier with ``nn.ReLU`` modules (CIFAR-shaped).
- ``DuckConcept``: a concept model by interface only (``concepts``, ``relevances``, ``aggregate``).
- ``DuckPrototype``: a prototype model by interface only (``prototype_distances``, ``prototype_classes``,
  ``classifier``).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class FunctionalCNN(nn.Module):
    """[B,1,28,28] → logits [B,10]; every nonlinearity is a functional call."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 8, 3, padding=1), nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


class ColourNet(nn.Module):
    """[B,3,32,32] → logits [B,10] with ReLU modules."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.head = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x):
        return self.head(self.features(x))


class DuckConcept(nn.Module):
    """logits = Σᵢ θᵢ(x) hᵢ(x) with 5 concepts; not a SENN subclass."""

    def __init__(self, k: int = 5):
        super().__init__()
        self.k = k
        self.h_net = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.Tanh(), nn.Linear(32, k))
        self.t_net = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.Tanh(), nn.Linear(32, k * 10))

    def concepts(self, x):
        return self.h_net(x)

    def relevances(self, x):
        return self.t_net(x).view(-1, self.k, 10)

    @staticmethod
    def aggregate(h, theta):
        return torch.einsum("bk,bkc->bc", h, theta)

    def forward(self, x):
        return self.aggregate(self.concepts(x), self.relevances(x))


class DuckPrototype(nn.Module):
    """logits = classifier(squared distances to 20 prototypes, two per class); not a PrototypeDL subclass."""

    def __init__(self, d: int = 8):
        super().__init__()
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.Tanh(), nn.Linear(32, d))
        self.prototypes = nn.Parameter(torch.randn(20, d))
        self.classifier = nn.Linear(20, 10)
        with torch.no_grad():   # prototype j belongs to class j mod 10: closer means more likely
            self.classifier.weight.copy_(-torch.eye(10).repeat(1, 2))
            self.classifier.bias.zero_()

    def prototype_distances(self, x):
        return (self.encoder(x).unsqueeze(1) - self.prototypes.unsqueeze(0)).pow(2).sum(-1)

    def prototype_classes(self):
        return self.classifier.weight.detach().argmin(0)

    def forward(self, x):
        return self.classifier(self.prototype_distances(x))


def train_briefly(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 150, lr: float = 3e-3,
                  seed: int = 0) -> nn.Module:
    """A few Adam steps of cross-entropy on (x, y) batches of 64, then eval mode and frozen weights."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(len(x), (64,), generator=gen)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval().requires_grad_(False)
