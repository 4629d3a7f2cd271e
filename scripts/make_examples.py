"""Make the example structures shipped in ase_e3density/data/examples/.

Command: python scripts/make_examples.py
water_20.xyz: 20 waters, hydrogen-bonded random placement, seed 7 (larger than any training cluster).
CuNi.cif: the fcc Cu0.3Ni0.7 alloy as a crystallographer writes it, one site of Fm-3m with partial occupancies
(a = 3.552 Å: Vegard's rule between Cu 3.615 and Ni 3.524 Å), for the phonon model's virtual crystal.
"""
from pathlib import Path

import numpy as np
from ase.io import write

from water_clusters import distort_monomers, hydrogen_bonded_cluster

OUT = Path(__file__).resolve().parents[1] / "ase_e3density" / "data" / "examples"

if __name__ == "__main__":
    rng = np.random.default_rng(7)
    cluster = distort_monomers(hydrogen_bonded_cluster(20, rng), rng)
    write(OUT / "water_20.xyz", cluster, comment="20-water cluster, scripts/make_examples.py (seed 7)")
    print(OUT / "water_20.xyz")
    a = 0.3 * 3.615 + 0.7 * 3.524  # Å, Vegard's rule
    (OUT / "CuNi.cif").write_text(
        "data_Cu0.3Ni0.7\n# fcc Cu0.3Ni0.7, random substitutional alloy; scripts/make_examples.py\n"
        f"_cell_length_a {a:.4f}\n_cell_length_b {a:.4f}\n_cell_length_c {a:.4f}\n"
        "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n"
        "_symmetry_space_group_name_H-M 'F m -3 m'\n_symmetry_Int_Tables_number 225\n"
        "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
        "_atom_site_fract_z\n_atom_site_occupancy\nCu1 Cu 0 0 0 0.3\nNi1 Ni 0 0 0 0.7\n")
    print(OUT / "CuNi.cif")
