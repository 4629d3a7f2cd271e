"""Deployed model files: the format (metadata, checksums), writing them, and loading them to run."""
from .deploy import deploy
from .format import FORMAT_VERSION, read_metadata
from .phonon_runtime import DeployedPhononModel
from .density_runtime import DeployedDensityModel
from .runtime import DeployedModel, clear_model_cache, load_model
from .shipped import SHIPPED_MODELS, resolve_model_path, shipped_model_path

__all__ = ["deploy", "load_model", "read_metadata", "DeployedModel", "DeployedDensityModel", "DeployedPhononModel", "FORMAT_VERSION",
           "SHIPPED_MODELS", "shipped_model_path", "resolve_model_path", "clear_model_cache"]
