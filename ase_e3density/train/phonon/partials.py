"""Element-projected (partial) phonon DOS on a model's grid: reference targets, the network's own, their errors.

Normalisation, the same on both sides: a partial DOS is per atom of the whole structure, in states/(THz atom),
and element ``e`` of atom fraction ``x_e`` integrates to ``3 x_e``, so the elements' partials add up to the
total DOS (3 modes per atom).

- Reference: phonopy's projected DOS of one atom integrates to 3 over the bands (its eigenvectors are
  complete), so an element's sum over its atoms of the primitive cell integrates to ``3 n_e``; the rows of
  ``e3density phonons`` store it per atom of the structure (:class:`~ase_e3density.phonon.PhononDOS`
  ``partials``: integrals ``3 x_e`` within the tetrahedron method's half a percent). On a model's grid
  (:func:`partial_targets`) each element gets its share of the total target (the mesh modes smeared,
  :func:`~ase_e3density.phonon.targets.dos_on_grid`) at every frequency, the share read off the partials
  smeared with the same Gaussian, then is scaled to exactly ``3 x_e``. So the partial targets add up to the
  total target (to the rescaling: measured on the 66 SevenNet-l3i5 rows with partials, 0.7 % of the modes
  moved on average, 12 % at most, for a 20-q-point mesh) and the partial loss teaches the split of the total,
  not a second shape of it (the tetrahedron DOS summed differs from the smeared modes by 6 % L1 on average).
- Network: each site's DOS integrates to 3 (a softmax), so :func:`element_dos`, the sum over a structure's
  sites of ``occupancy[i, e] x site DOS`` divided by its number of sites, integrates to ``3 x_e`` exactly
  (a virtual-crystal site shares its DOS among its elements by occupancy).
"""
from __future__ import annotations

import numpy as np
import torch

from ...errors import E3DensityError
from ...phonon.dos import PhononDOS, _smear

__all__ = ["partial_targets", "element_dos", "partial_errors"]


def partial_targets(dos: PhononDOS, total: np.ndarray, grid, species: list[str],
                    sigma: float | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The reference partial DOS of ``dos`` on ``grid`` (THz, uniform from 0, end points zero), given its
    total target ``total`` on that grid (:func:`~ase_e3density.phonon.targets.dos_on_grid` with the same
    ``sigma``, THz, default the grid step): the indices into ``species`` of its elements (increasing) and
    their DOS (n_elements, n_grid), states/(THz atom) per atom of the structure, element e integrating to
    exactly 3 x_e (module docstring); None when ``dos`` has no partials."""
    partials = dos.partials
    if not partials:
        return None
    unknown = [e for e in partials if e not in species]
    if unknown:
        raise E3DensityError(f"partial DOS of {', '.join(unknown)}, which the model's species lack")
    grid = np.asarray(grid, dtype=float)
    step = grid[1] - grid[0]
    interior = grid[1:-1]
    freqs = dos.frequencies
    weights = np.gradient(freqs)  # trapezoid weights of the stored grid (THz)
    weights[0] /= 2
    weights[-1] /= 2
    keep = freqs > 0
    at = np.minimum(freqs[keep], interior[-1])
    elements = sorted(partials, key=species.index)
    smeared = np.array([_smear(interior, at, (partials[e] * weights)[keep], step if sigma is None else sigma)
                        for e in elements])
    if dos.atoms is not None:
        symbols = dos.atoms.get_chemical_symbols()
        fractions = np.array([symbols.count(e) / len(symbols) for e in elements])
    else:
        fractions = smeared.sum(axis=1) / smeared.sum()
    summed = smeared.sum(axis=0)
    tiny = summed <= 1e-12 * max(summed.max(), 1e-300)
    share = np.where(tiny, fractions[:, None], smeared / np.where(tiny, 1.0, summed))
    values = np.zeros((len(elements), grid.size))
    values[:, 1:-1] = share * np.asarray(total, dtype=float)[1:-1]
    integrals = values.sum(axis=1) * step
    values *= np.where(integrals > 0, 3.0 * fractions / np.where(integrals > 0, integrals, 1.0), 0.0)[:, None]
    return np.array([species.index(e) for e in elements]), values


def element_dos(sites: torch.Tensor, occupancy: torch.Tensor, batch: torch.Tensor, n_structures: int) -> torch.Tensor:
    """The network's partial DOS (n_structures, n_species, n_grid), states/(THz atom) per atom of each
    structure: ``sites`` (n_atoms, n_grid) the per-site DOS, ``occupancy`` (n_atoms, n_species) each site's
    fractions, ``batch`` each site's structure. Summed over species it is the structure's DOS per atom."""
    per_site = occupancy.unsqueeze(2) * sites.unsqueeze(1)
    summed = torch.zeros((n_structures, *per_site.shape[1:]), dtype=sites.dtype, device=sites.device)
    summed = summed.index_add(0, batch, per_site)
    counts = torch.zeros(n_structures, dtype=sites.dtype, device=sites.device)
    counts = counts.index_add(0, batch, torch.ones_like(batch, dtype=sites.dtype))
    return summed / counts[:, None, None]


def partial_errors(grid, predicted: np.ndarray, reference: np.ndarray) -> dict:
    """Errors of the partial DOS of structures that have a reference one: ``predicted`` and ``reference``
    (n, n_species, n_grid) on a model's ``grid`` (THz), normalised as in the module docstring.

    Returns means over structures of ``partial_l1``, the misplaced share of the modes, sum over elements of
    the integral of |p_e - r_e| divided by 3 (= the element-fraction-weighted mean of each element's own
    relative L1; 0 perfect, 2 disjoint); ``partial_wasserstein`` (THz), each element's earth mover's distance
    weighted by its atom fraction (the partial loss term of a "wasserstein" loss); and ``partial_r2``, the
    element-fraction-weighted mean of each element's R2 (1 - residual / total sum of squares); per structure
    under ``per_structure``."""
    step = float(grid[1] - grid[0])
    p, r = np.asarray(predicted, dtype=float), np.asarray(reference, dtype=float)
    if p.shape != r.shape or p.ndim != 3:
        raise E3DensityError(f"partial DOS must be (n, n_species, n_grid) alike, got {p.shape} and {r.shape}")
    if not len(p):
        return {"partial_n": 0}
    mass = r.sum(axis=2)  # 3 x_e / step: the element's share of the modes
    fraction = mass / np.where(mass.sum(axis=1, keepdims=True) > 0, mass.sum(axis=1, keepdims=True), 1.0)
    l1 = np.abs(p - r).sum(axis=(1, 2)) / np.where(mass.sum(axis=1) > 0, mass.sum(axis=1), 1.0)
    spread = ((r - r.mean(axis=2, keepdims=True)) ** 2).sum(axis=2)
    r2 = 1.0 - ((p - r) ** 2).sum(axis=2) / np.where(spread > 0, spread, 1.0)
    r2 = (np.where(mass > 0, r2, 0.0) * fraction).sum(axis=1)
    emd = np.abs(np.cumsum(p - r, axis=2) * (step / 3.0)).sum(axis=(1, 2)) * step
    return {"partial_n": int(len(p)), "partial_l1": float(l1.mean()), "partial_wasserstein": float(emd.mean()),
            "partial_r2": float(r2.mean()),
            "per_structure": {"partial_l1": l1.tolist(), "partial_wasserstein": emd.tolist(), "partial_r2": r2.tolist()}}
