import pytest
import torch
import torch.nn as nn

import sem_core


@pytest.fixture(scope="session")
def tiny_logreg():
    """Multinomial logistic regression on 4×4 average-pooled digits (170 parameters), briefly trained, and the
    120 training digits it was trained on."""
    x, y, _ = sem_core.load_split("train", "subset")
    gen = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(y), generator=gen)[:120]
    x, y = x[idx], y[idx]
    torch.manual_seed(0)
    model = nn.Sequential(nn.AvgPool2d(7), nn.Flatten(), nn.Linear(16, 10))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(100):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval().requires_grad_(False), x, y
