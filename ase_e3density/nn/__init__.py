"""The e3nn density network: radial basis, interaction blocks, and the full model."""
from .model import DensityModel, ModelConfig

__all__ = ["DensityModel", "ModelConfig"]
