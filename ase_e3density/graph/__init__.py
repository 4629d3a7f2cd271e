"""From ASE ``Atoms`` to graphs: structure checks, neighbour lists (vesin), network inputs."""
from .checks import check_electron_count, check_structure
from .domain import domain_of, domain_report
from .inputs import batch_inputs, model_inputs
from .neighbours import neighbour_list

__all__ = ["check_structure", "check_electron_count", "domain_of", "domain_report", "neighbour_list", "model_inputs", "batch_inputs"]
