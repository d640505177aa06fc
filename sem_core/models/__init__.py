"""Models: SENN, PrototypeDL and a plain CNN, all [B,1,28,28] in [0,1] -> logits [B,10]; a researcher's own
architecture joins them through ``register_architecture`` (usually in a plug-in: ``load_plugin``)."""
from .cnn import CNN, CNNConfig
from .protodl import PrototypeDL, ProtoDLConfig, ProtoExplanation
from .registry import MODELS, create_model, list_models, model_name, register_architecture, with_activation
from .plugins import load_plugin, load_plugins
from .senn import SENN, SENNConfig, SennExplanation

__all__ = [
    "CNN", "CNNConfig", "PrototypeDL", "ProtoDLConfig", "ProtoExplanation", "SENN", "SENNConfig",
    "SennExplanation", "MODELS", "create_model", "list_models", "model_name", "with_activation",
    "register_architecture", "load_plugin", "load_plugins",
]
