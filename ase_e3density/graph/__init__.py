"""From ASE ``Atoms`` to graphs: structure checks, neighbour lists (vesin), network inputs."""
from .checks import check_structure
from .inputs import batch_inputs, model_inputs
from .neighbours import neighbour_list

__all__ = ["check_structure", "neighbour_list", "model_inputs", "batch_inputs"]
