"""PhononDOSModel: the phonon density of states of a crystal from an equivariant network.

Input, as in Chen et al. (Adv. Sci. 2021): every site carries a mass-weighted one-hot vector,
the atomic mass at the index of its element, divided by ``mass_scale``; a site occupied by
``A_x B_(1-x)`` carries ``x m_A e_A + (1-x) m_B e_B`` (the virtual crystal), so alloys cost
nothing extra. Two more entries are shared by all elements: the site's mass and its inverse square
root (a frequency scale), so that what the network learns about mass carries over between elements
(measured: Cv(300 K) errors on unseen crystals fell by a factor of 1.5-3 with them). A linear embedding,
gated interaction blocks over a periodic graph, a last block down to scalars, then a linear head gives
each atom logits on a fixed frequency grid.

Output: a softmax per atom makes each atom's projected DOS non-negative with 3 modes; the
structure's DOS per atom is their mean, so it integrates to 3 over the grid by construction and is
the same for any supercell of the crystal. The per-site DOS (:meth:`PhononDOSModel.atom_dos`) averaged
over each element's sites gives an element-projected DOS that adds up to the total; the loss of the
trainer (and so the shipped model) sees the total only, so that decomposition is the network's own,
not fitted to projected DOS. The grid is ``n_bins + 2`` points from 0 to
``max_frequency`` THz, the two end points held at zero, so the trapezoidal rule used everywhere
(:class:`~ase_e3density.phonon.PhononDOS`) gives exactly 3.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, List

import torch
from ase.data import atomic_masses, atomic_numbers
from e3nn import o3
from e3nn.util.jit import compile_mode

from ..errors import E3DensityError
from ..graph.element_features import element_features
from .blocks import Interaction
from .radial import BesselBasis

__all__ = ["PhononModelConfig", "PhononDOSModel"]

# The learned frequency scale of an atom's spectrum stays within exp(+-3) = 0.05-20: beyond, its grid would
# hold the spectrum in under a bin or lose all of it, and exp would underflow to 0 (a NaN index).
LOG_SCALE_LIMIT = 3.0


@dataclass
class PhononModelConfig:
    """Architecture and output grid. ``hidden`` maps l to channels (l_max = largest key, 0 to 3)."""

    species: List[str]
    cutoff: float = 5.0
    hidden: Dict[int, int] = field(default_factory=lambda: {0: 32, 1: 16, 2: 8})
    sh_lmax: int = 2
    n_layers: int = 3
    n_radial: int = 10
    radial_hidden: int = 64
    avg_neighbours: float = 40.0
    max_frequency: float = 40.0  # THz, last grid point
    n_bins: int = 159            # interior grid points (0.25 THz apart with the defaults)
    mass_scale: float = 100.0    # amu; input masses are divided by it
    frequency_scale: bool = False  # each atom's spectrum on its own learned frequency scale (see atom_dos)
    element_features: bool = False  # also five periodic-table descriptors per site (graph/element_features.py)

    def __post_init__(self):
        self.hidden = {int(l): int(m) for l, m in self.hidden.items() if int(m) > 0}
        if not self.species:
            raise E3DensityError("a model needs at least one species")
        unknown = [s for s in self.species if s not in atomic_numbers]
        if unknown:
            raise E3DensityError(f"unknown element(s) {', '.join(unknown)}")
        if 0 not in self.hidden or max(self.hidden) > 3:
            raise E3DensityError("hidden needs scalar channels (l=0) and l_max <= 3")
        if self.n_layers < 2:
            raise E3DensityError("n_layers must be at least 2 (the last one returns scalars)")
        if not (self.max_frequency > 0 and self.n_bins >= 2 and self.cutoff > 0 and self.mass_scale > 0):
            raise E3DensityError("max_frequency, cutoff and mass_scale must be > 0 and n_bins >= 2")

    def hidden_irreps(self) -> o3.Irreps:
        return o3.Irreps([(mul, (l, 1 if l % 2 == 0 else -1)) for l, mul in sorted(self.hidden.items())])

    def frequencies(self) -> List[float]:
        """The output grid, THz (``n_bins + 2`` points, end points included)."""
        step = self.max_frequency / (self.n_bins + 1)
        return [k * step for k in range(self.n_bins + 2)]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = {str(k): v for k, v in self.hidden.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "PhononModelConfig":
        d = dict(d)
        if "hidden" in d:
            d["hidden"] = {int(k): v for k, v in d["hidden"].items()}
        return cls(**d)


def _add_species_features(module, state_dict, prefix, *args) -> None:
    """A state dict from before ``species_features`` existed (no descriptors) gets the module's own, empty one."""
    key = prefix + "species_features"
    if key not in state_dict and module.species_features.shape[1] == 0:
        state_dict[key] = module.species_features


@compile_mode("script")
class PhononDOSModel(torch.nn.Module):
    """Equivariant network from a crystal (with site occupancies) to its phonon DOS per atom."""

    kind = "phonon_dos"

    def __init__(self, config: PhononModelConfig, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.config = config
        masses = [float(atomic_masses[atomic_numbers[s]]) / config.mass_scale for s in config.species]
        self.register_buffer("masses", torch.tensor(masses, dtype=torch.float64))
        step = config.max_frequency / (config.n_bins + 1)
        self.step = step
        self.n_bins = config.n_bins
        hidden = config.hidden_irreps()
        irreps_sh = o3.Irreps.spherical_harmonics(config.sh_lmax)
        n0 = config.hidden[0]
        # per species: its descriptors (n_species, 5), or none (n_species, 0) -- files without them keep their shapes
        features = element_features(config.species) if config.element_features else [[] for _ in config.species]
        self.register_buffer("species_features", torch.tensor(features, dtype=torch.float64).reshape(len(config.species), -1))
        self.register_load_state_dict_pre_hook(_add_species_features)  # files made before the buffer existed
        self.embedding = torch.nn.Linear(len(config.species) + 2 + self.species_features.shape[1], n0, bias=False)
        self.sh = o3.SphericalHarmonics(irreps_sh, normalize=True, normalization="component")
        self.radial = BesselBasis(config.cutoff, config.n_radial)
        scalars = o3.Irreps(f"{n0}x0e")
        layers, irreps_in = [], scalars
        for k in range(config.n_layers):
            irreps_out = scalars if k == config.n_layers - 1 else hidden
            layers.append(Interaction(irreps_in, irreps_sh, irreps_out, config.n_radial, config.radial_hidden,
                                      config.avg_neighbours))
            irreps_in = irreps_out
        self.layers = torch.nn.ModuleList(layers)
        self.head = torch.nn.Linear(n0, config.n_bins)
        scale_heads = []  # empty unless frequency_scale: files without it keep their weights' names
        if config.frequency_scale:
            scale_heads.append(torch.nn.Linear(n0, 1))
            torch.nn.init.zeros_(scale_heads[0].weight)  # every scale starts at 1: the fixed-grid model
            torch.nn.init.zeros_(scale_heads[0].bias)
        self.scale_heads = torch.nn.ModuleList(scale_heads)
        self.log_scale_limit = LOG_SCALE_LIMIT  # an attribute: TorchScript compiles no module-level float
        self.to(dtype)
        self.masses = self.masses.to(dtype)
        self.species_features = self.species_features.to(dtype)

    @torch.jit.export
    def prepare_inference(self, edge_chunk: int) -> None:
        """The dense, edge-chunked path of every block (used without autograd)."""
        for layer in self.layers:
            layer.prepare(edge_chunk)

    def deploy_metadata(self) -> Dict[str, object]:
        """What a deployed file records to turn the output back into a DOS."""
        return {
            "frequencies": self.config.frequencies(),
            "masses": {s: float(atomic_masses[atomic_numbers[s]]) for s in self.config.species},
            "units": {"positions": "angstrom", "frequencies": "THz", "dos": "states/(THz atom), integrates to 3",
                      "input": "per site: occupancy x atomic mass (amu) / mass_scale per species, then the site's "
                               "mass and its inverse square root"},
        }

    def atom_dos(self, positions: torch.Tensor, occupancy: torch.Tensor, edge_index: torch.Tensor,
                 edge_shift: torch.Tensor) -> torch.Tensor:
        """Each atom's projected DOS (n_atoms, n_bins + 2), states/(THz atom), 3 modes per atom."""
        sender, receiver = edge_index[1], edge_index[0]
        vectors = positions[sender] - positions[receiver] + edge_shift
        edge_sh = self.sh(vectors)
        edge_radial = self.radial(torch.linalg.norm(vectors, dim=1))
        weighted = occupancy * self.masses
        site_mass = weighted.sum(dim=1, keepdim=True)
        h = self.embedding(torch.cat([weighted, site_mass, torch.rsqrt(site_mass), occupancy @ self.species_features],
                                     dim=1))
        for layer in self.layers:
            h = layer(h, edge_sh, edge_radial, sender, receiver)
        share = torch.nn.functional.pad(torch.softmax(self.head(h), dim=1) * (3.0 / self.step), (1, 1))
        for scale_head in self.scale_heads:  # ln(scale) held to +-LOG_SCALE_LIMIT: exp never under- or overflows
            share = self.stretch(share, torch.exp(torch.clamp(scale_head(h), -self.log_scale_limit,
                                                              self.log_scale_limit)))
        return share

    def stretch(self, shape: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """``shape`` (n_atoms, n_bins + 2) read as a DOS of the reduced frequency nu / s, returned on the
        model's grid: ``shape(nu / s) / s`` by linear interpolation (zero beyond the last point), rescaled
        to 3 modes. ``scale`` (n_atoms, 1) > 1 stretches a spectrum to higher frequencies (light, stiff
        atoms), < 1 squeezes it (heavy, soft ones); the shape's capacity then serves every frequency range."""
        last = self.n_bins + 1
        index = torch.arange(last + 1, dtype=shape.dtype, device=shape.device)
        position = index.unsqueeze(0) / scale  # fractional index into the shape, (n_atoms, n_grid)
        lower = torch.clamp(torch.floor(position), 0.0, float(last))
        frac = position - lower
        lower_index = lower.long()
        upper_index = torch.clamp(lower_index + 1, 0, last)
        values = shape.gather(1, lower_index) * (1.0 - frac) + shape.gather(1, upper_index) * frac
        values = values * (position < float(last)).to(values.dtype)  # beyond the shape's last point: nothing
        values = torch.cat([values[:, :-1], torch.zeros_like(values[:, -1:])], dim=1)  # the grid's end stays 0
        total = values.sum(dim=1, keepdim=True) * self.step  # trapezoid with zero end points
        return values * (3.0 / torch.clamp(total, min=1e-12))

    def forward(self, positions: torch.Tensor, occupancy: torch.Tensor, edge_index: torch.Tensor,
                edge_shift: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        """DOS per atom of each structure (n_structures, n_bins + 2), states/(THz atom).

        ``occupancy`` (n_atoms, n_species): each site's fraction of every species (one-hot for
        ordered crystals); ``edge_index[0]`` receives from ``edge_index[1]``, the edge vector being
        ``positions[edge_index[1]] - positions[edge_index[0]] + edge_shift`` (Å); ``batch`` gives
        each atom's structure (0, 1, ...). The structure count is read off ``batch``, so ``torch.export``
        traces it as a data-dependent size and the exported program takes any number of structures.
        """
        per_atom = self.atom_dos(positions, occupancy, edge_index, edge_shift)
        if torch.jit.is_scripting():
            n = int(batch.max()) + 1
        else:  # eager and torch.export: the structure count is a data-dependent size, known to be >= 1
            n = batch.max().item() + 1
            torch._check(n >= 1)
        total = torch.zeros((n, per_atom.shape[1]), dtype=per_atom.dtype, device=per_atom.device)
        total = total.index_add(0, batch, per_atom)
        counts = torch.zeros(n, dtype=per_atom.dtype, device=per_atom.device)
        counts = counts.index_add(0, batch, torch.ones_like(batch, dtype=per_atom.dtype))
        return total / counts.unsqueeze(1)
