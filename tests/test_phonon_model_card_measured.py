"""The phonon model card's section on measured heat capacities (scripts/make_phonon_model_card.py): Cp - Cv
per crystal from the shipped model's own Cv, refused crystals listed, crystals without a Cp named."""
from __future__ import annotations


import pytest
from ase.build import bulk
from script_import import import_script


CSV = """name,symbols,structure,a_start,class,compared,exp_cm1,exp_THz,frequency_source,cp298_per_formula,atoms_per_formula,cp298_per_atom,cp_source,gamma_mJ_mol_K2
Cu,Cu,fcc,,metal,max,,7.3,x,24.44,1,24.44,CRC Handbook,0.695
NaCl,NaCl,rocksalt,5.640,polar,TO(Gamma),164,4.92,x,50.5,2,25.25,NIST-JANAF,
Po,Po,sc,3.359,metal,,,,,26.40,1,26.40,CRC Handbook,
GaAs,GaAs,zincblende,5.653,polar,TO(Gamma),268,8.03,x,,2,,,
"""


@pytest.fixture(scope="module")
def card_module():
    return import_script("make_phonon_model_card")


def test_measured_section(card_module, tmp_path):
    from ase.db import connect

    from ase_e3density.models import load_model, shipped_model_path

    (tmp_path / "measured.csv").write_text(CSV)
    connect(tmp_path / "none.db").count()  # an empty generator database: no rows
    model = load_model(shipped_model_path("phonon"))
    lines = card_module.measured_heat_capacities(model, str(tmp_path / "none.db"), tmp_path / "measured.csv")
    text = "\n".join(lines)
    cv_cu = float(model.predict_dos(bulk("Cu", "fcc")).heat_capacity(298.15))
    cv_nacl = float(model.predict_dos(bulk("NaCl", "rocksalt", a=5.64)).heat_capacity(298.15))
    assert f"| Cu | metal | 24.44 | | {cv_cu:.2f} | {24.44 - cv_cu:+.2f} | | no row |" in lines
    assert f"| NaCl | polar | 25.25 | | {cv_nacl:.2f} | {25.25 - cv_nacl:+.2f} | | no row |" in lines
    assert "| Po | metal | 26.40 | | refused | | | no row |" in lines
    assert "- refused by the model: Po (element Po not in the model)" in lines
    assert "- no measured Cp in the table: GaAs" in lines
    errors = [abs(24.44 - cv_cu), abs(25.25 - cv_nacl)]
    assert (f"- model against measured Cp: MAE {sum(errors) / 2:.2f}, max |error| {max(errors):.2f} (2 crystals)"
            in text)
    assert "Cp - Cv = 9 B alpha^2 V T" in text
    # a harmonic Cv at 298 K of these soft crystals lies below the Dulong-Petit 3R and above 90 % of it
    assert 0.9 * 24.94 < cv_cu < 24.94 and 0.9 * 24.94 < cv_nacl < 24.94
