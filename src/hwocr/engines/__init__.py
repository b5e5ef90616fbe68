"""Recognition engines: a model (weights + metadata) bound to a runtime session."""

from .base import Engine, ModelInfo
from .factory import load_engine

__all__ = ["Engine", "ModelInfo", "load_engine"]
