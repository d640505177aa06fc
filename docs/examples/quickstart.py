"""Your own CNN through SEM Explorer: train it, explain it, attack its saliency, estimate its Lipschitz constant,
save it through its plug-in. Run from the repository root: ``python docs/examples/quickstart.py runs/``."""
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))      # the repository root: sem_core, not installed
import sem_core  # noqa: E402
from sem_core.models.checkpoint import save_checkpoint  # noqa: E402

PLUGIN = "docs/examples/my_cnn.py"
out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs")
model = sem_core.load_plugin(str(Path(__file__).with_name("my_cnn.py"))).MyCNN()   # functional F.relu inside
(x_train, y_train, source), (x, y, _) = sem_core.load_split("train"), sem_core.load_split("test")
torch.manual_seed(0)
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for _ in range(200):                                               # a few seconds on a laptop CPU
    i = torch.randint(len(x_train), (64,))
    opt.zero_grad(); F.cross_entropy(model(x_train[i]), y_train[i]).backward(); opt.step()  # noqa: E702
model.eval()
acc = (model(x).argmax(1) == y).float().mean().item()
print(f"data: {source}; test accuracy {acc:.3f}")
for name in sem_core.list_explainers():
    try:
        print(f"explainer {name}: map {list(sem_core.explain(model, name, x[:4]).shape)}")
    except sem_core.SemError as exc:                               # DeepLIFT cannot see F.relu: it says so
        print(f"explainer {name}: refused: {exc}")
for name in sem_core.list_attacks(family="saliency"):
    atk = sem_core.create_attack(model, name, eps=0.1, steps=20)
    res = atk(x[:8], y[:8], target=atk.example_target(x[:8], y[:8]) if atk.targeted else None)
    print(f"attack {name}: {res.outcome}, top-k intersection {res.summary()['topk_intersection']:.2f}")
lip = sem_core.local_lipschitz(sem_core.explanation_function(model, "saliency"), x[:4], budget=20)
print(f"local Lipschitz estimate of saliency (median of 4 digits): {sem_core.metrics.median(lip.values):.2f}")
card = save_checkpoint(model, out, {"test_accuracy": acc, "data": {"source": source, "n_train": len(y_train),
                       "n_test": len(y), "description": "docs/examples/quickstart.py, 200 Adam steps"}}, "my_cnn")
print(f"saved {card}; now try:\n  python -m sem_core attack saliency --model {card} --plugin {PLUGIN} --json\n"
      f"  SEM_MODELS_DIR={out} SEM_PLUGINS={PLUGIN} make app")
