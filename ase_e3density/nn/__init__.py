"""e3nn networks: shared building blocks (radial basis, interaction block) and one model per kind."""
from .density_model import DensityModel, ModelConfig
from .phonon_model import PhononDOSModel, PhononModelConfig

__all__ = ["DensityModel", "ModelConfig", "PhononDOSModel", "PhononModelConfig"]
