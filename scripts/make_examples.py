"""Make the example structures shipped in ase_e3density/data/examples/.

Command: python scripts/make_examples.py
water_20.xyz: 20 waters, hydrogen-bonded random placement, seed 7 (larger than any training cluster).
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
