"""e3nn networks: shared building blocks (radial basis, interaction block) and one model per kind."""
from .density_model import DensityModel, ModelConfig

__all__ = ["DensityModel", "ModelConfig"]
