"""DensityModel: per-atom auxiliary-basis coefficients from an equivariant network.

Input: positions, species indices, a neighbour list (computed outside, see
:mod:`ase_e3density.graph`) and each structure's total charge. Output: for every atom the
coefficients of its element's basis (padded to the largest element), as the spherical
free-atom density plus a learned, per-function-scaled deviation, then projected so each
structure holds exactly ``sum Z - charge`` electrons: ``c += lambda q`` with ``q`` the
charge integrals (only s functions), the smallest change that fixes the count.

With ``ModelConfig.charge_equilibration`` the count is fixed atom by atom instead: a charge-equilibration
head (:mod:`.charge_equilibration`) turns the last layer's scalar features into electronegativities and
hardnesses, solves for the charges ``q_i`` that minimise the QEq energy (with Gaussian electrostatics) of
each structure at its total charge, and each atom's coefficients get the smallest change
``c_i += lambda_i q_i`` that makes it hold ``Z_i - q_i`` electrons, so charge can move across a whole
structure, beyond the network's receptive field.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Tuple

import torch
from ase.data import atomic_numbers
from e3nn import o3
from e3nn.util.jit import compile_mode

from ..electron.basis import load_basis
from .blocks import Interaction
from .charge_equilibration import ChargeEquilibration, set_atom_populations
from .radial import BesselBasis
from ..errors import E3DensityError

BLOCK_CHUNKS = 16
"""Edge chunks per block of receiving atoms on the dense path (a block's pooled messages stay in cache)."""


@dataclass
class ModelConfig:
    """Architecture. ``hidden`` maps l to channels (l_max = largest key, 0 to 4)."""

    species: List[str]
    basis: str = "def2-universal-jfit-decontracted"
    cutoff: float = 3.5
    hidden: Dict[int, int] = field(default_factory=lambda: {0: 32, 1: 16, 2: 8, 3: 4})
    parity: str = "natural"  # "natural": l even -> e, odd -> o; "both": each l in both parities
    sh_lmax: int = 3
    n_layers: int = 3
    n_radial: int = 8
    radial_hidden: int = 64
    avg_neighbours: float = 12.0
    charge_equilibration: bool = False  # per-atom charges from a QEq head instead of one shift per structure

    def __post_init__(self):
        self.hidden = {int(l): int(m) for l, m in self.hidden.items() if int(m) > 0}
        if not self.species:
            raise E3DensityError("a model needs at least one species")
        if 0 not in self.hidden or max(self.hidden) > 4:
            raise E3DensityError("hidden needs scalar channels (l=0) and l_max <= 4")
        if self.parity not in ("natural", "both"):
            raise E3DensityError("parity must be 'natural' or 'both'")

    def hidden_irreps(self) -> o3.Irreps:
        out = []
        for l, mul in sorted(self.hidden.items()):
            natural = 1 if l % 2 == 0 else -1
            out.append((mul, (l, natural)))
            if self.parity == "both":
                out.append((mul, (l, -natural)))
        return o3.Irreps(out).sort().irreps.simplify()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = {str(k): v for k, v in self.hidden.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return cls(**{**d, "hidden": {int(k): v for k, v in d.get("hidden", {}).items()} or ModelConfig.__dataclass_fields__["hidden"].default_factory()})


@compile_mode("script")
class DensityModel(torch.nn.Module):
    """Equivariant network from structure to density coefficients (see module docstring)."""

    def __init__(self, config: ModelConfig, free_atom: torch.Tensor | None = None,
                 output_scale: torch.Tensor | None = None, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.config = config
        basis = load_basis(config.basis)
        basis.check_supported([atomic_numbers[s] for s in config.species])
        self.species_irreps = [basis[s].irreps for s in config.species]
        self.dims: List[int] = [basis[s].n_functions for s in config.species]
        self.max_dim = max(self.dims)
        shape = (len(config.species), self.max_dim)
        self.register_buffer("charge_integrals", torch.as_tensor(basis.padded_table(config.species, "charge_integrals")).to(dtype))
        self.register_buffer("atomic_numbers", torch.tensor([float(atomic_numbers[s]) for s in config.species], dtype=dtype))
        self.register_buffer("free_atom", (torch.zeros(shape, dtype=torch.float64) if free_atom is None else free_atom).to(dtype))
        self.register_buffer("output_scale", (torch.ones(shape, dtype=torch.float64) if output_scale is None else output_scale).to(dtype))

        hidden = config.hidden_irreps()
        irreps_sh = o3.Irreps.spherical_harmonics(config.sh_lmax)
        n0 = config.hidden[0]
        self.embedding = torch.nn.Embedding(len(config.species), n0)
        self.sh = o3.SphericalHarmonics(irreps_sh, normalize=True, normalization="component")
        self.radial = BesselBasis(config.cutoff, config.n_radial)
        # The heads are linear, so the last layer must also carry every output irrep that the
        # hidden ones lack (e.g. oxygen's 1x4e with hidden l_max 3); its tensor product makes them.
        needed: Dict[o3.Irrep, int] = {}
        for irreps in self.species_irreps:
            for mul, ir in o3.Irreps(irreps):
                needed[ir] = max(needed.get(ir, 0), mul)
        present = {ir for _, ir in hidden}
        last = (hidden + o3.Irreps([(m, ir) for ir, m in needed.items() if ir not in present])).sort().irreps.simplify()
        layers, irreps_in = [], o3.Irreps(f"{n0}x0e")
        for k in range(config.n_layers):
            is_last = k == config.n_layers - 1
            irreps_out = last if is_last else hidden
            required = o3.Irreps([(1, ir) for ir in needed]) if is_last else None
            layers.append(Interaction(irreps_in, irreps_sh, irreps_out, config.n_radial, config.radial_hidden,
                                      config.avg_neighbours, required))
            irreps_in = irreps_out
        self.layers = torch.nn.ModuleList(layers)
        self.heads = torch.nn.ModuleList([o3.Linear(last, o3.Irreps(ir)) for ir in self.species_irreps])
        scalars = [sl for (mul, ir), sl in zip(last, last.slices()) if ir == o3.Irrep("0e")]
        self.scalar_start, self.scalar_stop = scalars[0].start, scalars[0].stop  # one block: irreps simplified
        # only when asked for, so that models without it keep their weights (and files) as they were
        self.qeq = (ChargeEquilibration(config.species, scalars[0].stop - scalars[0].start, n0)
                    if config.charge_equilibration else None)
        self.last_dim = last.dim
        self.head_weight = torch.zeros(0)  # dense heads of the inference path (prepare_inference)
        self.head_bias = torch.zeros(0)
        self.sh_monomials = torch.zeros(0)  # the harmonics as monomials of the unit vector (prepare_inference)
        self.sh_lmax = config.sh_lmax
        self.fused = False
        self.edge_chunk = 0  # edges per chunk of the dense path (prepare_inference)
        self.block_chunks = BLOCK_CHUNKS
        buffers = {name: b.clone() for name, b in self.named_buffers() if "." not in name}
        self.to(dtype)
        for name, b in buffers.items():  # keep float64 tables exact rather than round-tripped through float32
            setattr(self, name, b.to(dtype))

    kind = "electron_density"

    @torch.jit.export
    def prepare_inference(self, edge_chunk: int) -> None:
        """Copy the current weights into the dense inference path (used without autograd) and process
        edges ``edge_chunk`` at a time (0: all at once). Call again after the weights or dtype change."""
        for layer in self.layers:
            layer.prepare(edge_chunk)
        self.edge_chunk = edge_chunk
        with torch.no_grad():
            like = self.free_atom
            eye = torch.eye(self.last_dim, dtype=like.dtype, device=like.device)
            zero = torch.zeros((1, self.last_dim), dtype=like.dtype, device=like.device)
            weights: List[torch.Tensor] = []
            biases: List[torch.Tensor] = []
            for head in self.heads:  # each head as (matrix, bias), padded to max_dim, side by side
                bias = head(zero)
                pad = self.max_dim - bias.shape[1]
                weights.append(torch.nn.functional.pad(head(eye) - bias, (0, pad)))
                biases.append(torch.nn.functional.pad(bias[0], (0, pad)))
            self.head_weight = torch.cat(weights, dim=1)
            self.head_bias = torch.cat(biases)
            # e3nn's harmonics up to sh_lmax are polynomials of that degree in the unit vector: their
            # coefficients in the monomials, fitted (exactly, in float64) to e3nn's own values
            n = 256
            k = torch.arange(n, dtype=torch.float64, device=like.device) + 0.5
            z = 1.0 - 2.0 * k / n
            phi = k * (math.pi * (3.0 - math.sqrt(5.0)))
            rho = torch.sqrt(1.0 - z * z)
            points = torch.stack([rho * torch.cos(phi), rho * torch.sin(phi), z], dim=1)
            fit = torch.linalg.pinv(self._monomials(points)) @ self.sh(points).to(torch.float64)
            self.sh_monomials = fit.to(like.dtype)
        self.fused = True

    def _monomials(self, unit: torch.Tensor) -> torch.Tensor:
        """Every product of up to ``sh_lmax`` components of the unit vectors (repeats included), (E, K)."""
        n = unit.shape[0]
        term = torch.ones((n, 1), dtype=unit.dtype, device=unit.device)
        terms = [term]
        for _ in range(self.sh_lmax):
            term = (term.unsqueeze(2) * unit.unsqueeze(1)).reshape(n, term.shape[1] * 3)
            terms.append(term)
        return torch.cat(terms, dim=1)

    def deploy_metadata(self) -> Dict[str, object]:
        """What a deployed file must record to turn this network's output back into densities."""
        basis = load_basis(self.config.basis).subset(self.config.species)
        return {
            "basis": basis.to_dict(),
            "irreps": dict(zip(self.config.species, self.species_irreps)),
            "free_atom": {s: self.free_atom[k, : self.dims[k]].double().tolist()
                          for k, s in enumerate(self.config.species)},
            "units": {"positions": "angstrom", "charge": "e",
                      "coefficients": "atomic units (functions normalised in bohr)", "density": "e/angstrom^3",
                      "dipole": "e*angstrom", "quadrupole": "e*angstrom^2"},
        }

    def features(self, positions: torch.Tensor, species: torch.Tensor, edge_index: torch.Tensor,
                 edge_shift: torch.Tensor) -> List[torch.Tensor]:
        """Hidden features after the embedding and after every layer."""
        dense = self.fused and not torch.is_grad_enabled()
        blocked = dense and self.edge_chunk > 0 and edge_index.shape[1] > self.block_edges()
        atom_bounds: List[int] = []
        edge_bounds: List[int] = []
        if blocked:  # edges sorted by receiver once; the layers then work one block of receivers at a time
            receiver_sorted, order = torch.sort(edge_index[0], stable=True)
            edge_index, edge_shift = edge_index.index_select(1, order), edge_shift.index_select(0, order)
            atom_bounds, edge_bounds = self._blocks(receiver_sorted, positions.shape[0])
        sender, receiver = edge_index[1], edge_index[0]
        vectors = positions[sender] - positions[receiver] + edge_shift
        lengths = torch.linalg.norm(vectors, dim=1)
        if dense:  # the dense path: the same harmonics in a few operations
            unit = vectors / lengths.clamp(min=1e-12).unsqueeze(1)
            edge_sh = torch.mm(self._monomials(unit), self.sh_monomials)
        else:
            edge_sh = self.sh(vectors)
        edge_radial = self.radial(lengths)
        h = self.embedding(species)
        out = [h]
        for layer in self.layers:
            if blocked:
                h = layer.forward_blocks(h, edge_sh, edge_radial, sender, receiver, atom_bounds, edge_bounds)
            else:
                h = layer(h, edge_sh, edge_radial, sender, receiver)
            out.append(h)
        return out

    def block_edges(self) -> int:
        """Incoming edges per block of receiving atoms on the dense path: ``BLOCK_CHUNKS`` edge chunks."""
        return self.edge_chunk * self.block_chunks

    def _blocks(self, receiver_sorted: torch.Tensor, n_atoms: int) -> Tuple[List[int], List[int]]:
        """Blocks of consecutive receiving atoms with about :meth:`block_edges` incoming edges each."""
        n_edges = receiver_sorted.shape[0]
        per_block = max(1, (self.block_edges() * n_atoms) // max(n_edges, 1))
        atom_bounds = list(range(0, n_atoms, per_block)) + [n_atoms]
        starts = torch.tensor(atom_bounds, dtype=receiver_sorted.dtype, device=receiver_sorted.device)
        edge_bounds: List[int] = torch.searchsorted(receiver_sorted, starts).tolist()
        return atom_bounds, edge_bounds

    def forward(self, positions: torch.Tensor, species: torch.Tensor, edge_index: torch.Tensor,
                edge_shift: torch.Tensor, total_charge: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        """Coefficients (n_atoms, max_dim), e3nn order, zero beyond each element's functions.

        ``edge_index[0]`` receives from ``edge_index[1]``; the edge vector is
        ``positions[edge_index[1]] - positions[edge_index[0]] + edge_shift`` (Å).
        ``batch`` gives each atom's structure; ``total_charge`` has one entry per structure.
        """
        h = self.features(positions, species, edge_index, edge_shift)[-1]
        if self.fused and not torch.is_grad_enabled():
            every = torch.addmm(self.head_bias, h, self.head_weight).view(h.shape[0], -1, self.max_dim)
            raw = every.gather(1, species.view(-1, 1, 1).expand(-1, 1, self.max_dim)).squeeze(1)
            coeffs = self.free_atom[species] + self.output_scale[species] * raw
            return self.fix_charge(coeffs, h, positions, species, total_charge, batch)
        raw = torch.zeros((h.shape[0], self.max_dim), dtype=h.dtype, device=h.device)
        for k, head in enumerate(self.heads):
            idx = torch.nonzero(species == k).flatten()
            if idx.numel() > 0:
                rows = head(h[idx])
                rows = torch.nn.functional.pad(rows, (0, self.max_dim - rows.shape[1]))
                raw = raw.index_copy(0, idx, rows)
        coeffs = self.free_atom[species] + self.output_scale[species] * raw
        return self.fix_charge(coeffs, h, positions, species, total_charge, batch)

    def fix_charge(self, coeffs: torch.Tensor, h: torch.Tensor, positions: torch.Tensor, species: torch.Tensor,
                   total_charge: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        """``coeffs`` with each structure's electron count made ``sum Z - charge``: atom by atom from the QEq
        charges (:meth:`atom_charges`) with charge equilibration, else by :meth:`conserve_charge`."""
        qeq = self.qeq
        if qeq is not None:
            charges = qeq(h[:, self.scalar_start:self.scalar_stop], species, positions, batch, total_charge)
            return set_atom_populations(coeffs, self.charge_integrals[species], self.atomic_numbers[species] - charges)
        return self.conserve_charge(coeffs, species, total_charge, batch)

    @torch.jit.export
    def atom_charges(self, positions: torch.Tensor, species: torch.Tensor, edge_index: torch.Tensor,
                     edge_shift: torch.Tensor, total_charge: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        """The QEq charges (e) of every atom (inputs as :meth:`forward`); empty without charge equilibration."""
        qeq = self.qeq
        if qeq is None:
            return torch.zeros(0, dtype=positions.dtype, device=positions.device)
        h = self.features(positions, species, edge_index, edge_shift)[-1]
        return qeq(h[:, self.scalar_start:self.scalar_stop], species, positions, batch, total_charge)

    def conserve_charge(self, coeffs: torch.Tensor, species: torch.Tensor, total_charge: torch.Tensor,
                        batch: torch.Tensor) -> torch.Tensor:
        """Add ``lambda_g q`` per structure g so that it holds ``sum Z - charge`` electrons."""
        q = self.charge_integrals[species]
        n_graphs = total_charge.shape[0]
        zeros = torch.zeros(n_graphs, dtype=coeffs.dtype, device=coeffs.device)
        electrons = zeros.index_add(0, batch, (coeffs * q).sum(dim=1))
        target = zeros.index_add(0, batch, self.atomic_numbers[species]) - total_charge.to(coeffs.dtype)
        norm = zeros.index_add(0, batch, (q * q).sum(dim=1))
        lam = (target - electrons) / norm
        return coeffs + lam[batch].unsqueeze(1) * q
