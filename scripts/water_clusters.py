"""Water clusters for training and testing: hydrogen-bonded placements and rigid TIP3P MD.

Everything is seeded by a ``numpy.random.Generator``. Geometry of a TIP3P water:
r(OH) = 0.9572 Å, angle(HOH) = 104.52°.
"""
from __future__ import annotations

import numpy as np
from ase import Atoms
from ase import units
from scipy.spatial.transform import Rotation

__all__ = ["water_molecule", "hydrogen_bonded_cluster", "md_snapshots", "distort_monomers"]

R_OH, ANGLE_HOH = 0.9572, np.radians(104.52)


def water_molecule(r_oh: float = R_OH, angle: float = ANGLE_HOH) -> Atoms:
    """One water, O at the origin, in the xy plane, atoms ordered O H H."""
    h = angle / 2
    return Atoms("OH2", positions=[[0, 0, 0], [r_oh * np.sin(h), r_oh * np.cos(h), 0], [-r_oh * np.sin(h), r_oh * np.cos(h), 0]])


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    return Rotation.random(random_state=int(rng.integers(1 << 31))).as_matrix()


def hydrogen_bonded_cluster(n: int, rng: np.random.Generator, max_tries: int = 10000) -> Atoms:
    """``n`` waters added one by one, each donating an H-bond (O...O 2.7-3.0 Å) to one already placed.

    Rejects placements with O...O < 2.55 Å or any intermolecular H...X < 1.5 Å.
    """
    cluster = water_molecule()
    cluster.positions = cluster.positions @ _random_rotation(rng).T
    tries = 0
    while len(cluster) < 3 * n:
        tries += 1
        if tries > max_tries:
            raise RuntimeError(f"could not place {n} waters without clashes")
        acceptor = cluster.positions[3 * int(rng.integers(len(cluster) // 3))]
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        oxygen = acceptor + rng.uniform(2.7, 3.0) * direction
        w = water_molecule()
        # rotate so that the first O-H points from the new O to the acceptor O, then spin about that axis
        oh = w.positions[1] / np.linalg.norm(w.positions[1])
        align, _ = Rotation.align_vectors([-direction], [oh])
        spin = Rotation.from_rotvec(-direction * rng.uniform(0, 2 * np.pi))
        w.positions = (spin * align).apply(w.positions) + oxygen
        old = cluster.positions
        d = np.linalg.norm(w.positions[:, None] - old[None], axis=2)
        oo = d[0, 0::3]
        if oo.min() < 2.55 or d[1:].min() < 1.5 or d[:, np.r_[1:len(old):3, 2:len(old):3]].min() < 1.5:
            continue
        cluster += w
    cluster.center()
    return cluster


def distort_monomers(atoms: Atoms, rng: np.random.Generator, bond_sigma: float = 0.02,
                     angle_sigma_deg: float = 3.0) -> Atoms:
    """Random O-H lengths and H-O-H angles, so the data is not only rigid monomers."""
    out = atoms.copy()
    for k in range(0, len(out), 3):
        o, h1, h2 = out.positions[k:k + 3]
        u1, u2 = (h1 - o) / np.linalg.norm(h1 - o), (h2 - o) / np.linalg.norm(h2 - o)
        bisector = (u1 + u2) / np.linalg.norm(u1 + u2)
        perp = (u1 - u2) / np.linalg.norm(u1 - u2)
        half = 0.5 * np.arccos(np.clip(u1 @ u2, -1, 1)) + np.radians(rng.normal(0, angle_sigma_deg)) / 2
        out.positions[k + 1] = o + (R_OH + rng.normal(0, bond_sigma)) * (np.cos(half) * bisector + np.sin(half) * perp)
        out.positions[k + 2] = o + (R_OH + rng.normal(0, bond_sigma)) * (np.cos(half) * bisector - np.sin(half) * perp)
    return out


def md_snapshots(cluster: Atoms, n_snapshots: int, rng: np.random.Generator, temperature_K: float = 250.0,
                 interval_fs: float = 100.0, timestep_fs: float = 1.0) -> list[Atoms]:
    """Snapshots of rigid TIP3P Langevin dynamics (ASE's TIP3P and RATTLE) of a water cluster."""
    from ase.calculators.tip3p import TIP3P
    from ase.constraints import FixBondLengths, FixCom
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    atoms = cluster.copy()
    atoms.set_cell([60.0, 60.0, 60.0])
    atoms.center()
    atoms.pbc = False
    n_mol = len(atoms) // 3
    atoms.constraints = [FixBondLengths([(3 * i + j, 3 * i + (j + 1) % 3) for i in range(n_mol) for j in range(3)]),
                         FixCom()]
    atoms.calc = TIP3P(rc=20.0)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng)
    dyn = Langevin(atoms, timestep_fs * units.fs, temperature_K=temperature_K, friction=0.01 / units.fs, fixcm=False,
                   rng=rng)
    dyn.run(int(5 * interval_fs / timestep_fs))  # equilibrate
    frames = []
    for _ in range(n_snapshots):
        dyn.run(int(interval_fs / timestep_fs))
        frame = Atoms(atoms.get_chemical_symbols(), positions=atoms.get_positions())
        frame.center()
        frames.append(frame)
    return frames
