"""Models: SENN, PrototypeDL and a plain CNN, all [B,1,28,28] in [0,1] -> logits [B,10]."""
from .cnn import CNN, CNNConfig
from .protodl import PrototypeDL, ProtoDLConfig, ProtoExplanation
from .registry import MODELS, create_model, list_models, model_name, with_activation
from .senn import SENN, SENNConfig, SennExplanation

__all__ = [
    "CNN", "CNNConfig", "PrototypeDL", "ProtoDLConfig", "ProtoExplanation", "SENN", "SENNConfig",
    "SennExplanation", "MODELS", "create_model", "list_models", "model_name", "with_activation",
]
