"""scripts/organic_targets.py's exact-DFT cache: a run that reads it writes the record of the run that computed
the DFT (and the 'minao' SCF), without running either; an entry of other settings or with broken arrays is not
read but computed again."""
from __future__ import annotations

import json

import numpy as np
import pytest
from ase.build import molecule
from ase.io import write
from script_import import import_script

pytest.importorskip("pyscf")

TIMING = ("seconds", "wall_seconds", "cpu_seconds", "dft_cache")


@pytest.fixture(scope="module")
def targets():
    return import_script("organic_targets")


@pytest.fixture(scope="module")
def filled(targets, tmp_path_factory):
    """Water measured with --scf into a fresh cache: (folder, structures file, cache folder, record)."""
    folder = tmp_path_factory.mktemp("targets")
    write(folder / "water.extxyz", molecule("H2O"))
    record = run(targets, folder / "water.extxyz", folder / "filled.jsonl", "--cache", str(folder / "cache"), "--scf")
    return folder, folder / "water.extxyz", folder / "cache", record


def run(targets, structures, out, *options) -> dict:
    """The record of the one molecule in ``structures`` that a run writes to ``out``."""
    assert targets.main(["--structures", str(structures), "--out", str(out), *options]) == 0
    (line,) = out.read_text().splitlines()
    return json.loads(line)


def without_timing(record: dict) -> dict:
    out = {k: v for k, v in record.items() if k not in TIMING}
    out["scf"] = {k: v for k, v in out["scf"].items() if k != "minao_cached"}
    out["scf"]["model"] = {k: v for k, v in out["scf"]["model"].items() if not k.startswith("seconds")}  # this run's
    return out


def test_a_run_from_the_cache_writes_the_same_record_without_dft(targets, filled, monkeypatch):
    folder, structures, cache, computed = filled
    assert computed["dft_cache"] == "written" and not computed["scf"]["minao_cached"]
    (entry,) = cache.glob("*.npz")
    assert not list(cache.glob(".*"))  # no temporary file left
    # water: 10 electrons; the fit floor below the model's error; the PBE0 dipole about 1.9 D
    assert computed["n_electrons"] == 10 and computed["eps_rho"]["fit"] < computed["eps_rho"]["model"]
    assert computed["dipole"]["dft"]["norm_D"] == pytest.approx(1.9, abs=0.15)

    def no_dft(*args, **kwargs):
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(targets, "compute_exact", no_dft)
    cached = run(targets, structures, folder / "cached.jsonl", "--cache", str(cache), "--scf")
    assert cached["dft_cache"] == "read" and cached["scf"]["minao_cached"]
    assert {"dft", "fit", "scf_minao"}.isdisjoint(cached["seconds"]) and "scf_model" in cached["seconds"]
    assert without_timing(cached) == without_timing(computed)  # the same numbers, exactly
    assert cached["exact_seconds"] == computed["exact_seconds"]  # what the exact part cost where it ran


@pytest.mark.parametrize("damage", ["key", "arrays", "truncated"])
def test_a_stale_or_broken_entry_is_computed_again(targets, filled, damage, capsys):
    folder, structures, cache, computed = filled
    stale = folder / f"stale_{damage}"
    stale.mkdir()
    (entry,) = cache.glob("*.npz")
    with np.load(entry) as data:
        arrays = {k: data[k] for k in data.files}
    if damage == "key":  # another grid level
        arrays["key"] = np.array(str(arrays["key"]).replace('"grid_level": 1', '"grid_level": 3'))
        assert str(arrays["key"]) != str(np.load(entry)["key"])
    elif damage == "arrays":
        arrays["rho_dft"] = arrays["rho_dft"][:-1]
    with (stale / entry.name).open("wb") as handle:
        np.savez_compressed(handle, **arrays)
    if damage == "truncated":
        (stale / entry.name).write_bytes(entry.read_bytes()[:1000])
    capsys.readouterr()
    again = run(targets, structures, folder / f"again_{damage}.jsonl", "--cache", str(stale))
    assert f"cache: ignoring {stale / entry.name}" in capsys.readouterr().err
    assert again["dft_cache"] == "written"
    assert again["eps_rho"] == computed["eps_rho"] and again["esp_rmse_kcal_mol_e"] == computed["esp_rmse_kcal_mol_e"]
    with np.load(stale / entry.name) as data:  # the entry is whole again
        assert str(data["key"]) == str(np.load(entry)["key"])
        assert len(data["rho_dft"]) == again["grid_points"]


def test_no_cache_reads_and_writes_none(targets, filled, tmp_path, monkeypatch):
    folder, structures, cache, computed = filled
    monkeypatch.setattr(targets, "CACHE_DIR", tmp_path / "never")
    record = run(targets, structures, tmp_path / "off.jsonl", "--no-cache")
    assert record["dft_cache"] == "off" and not (tmp_path / "never").exists()
    assert record["eps_rho"] == computed["eps_rho"] and record["dipole"] == computed["dipole"]


def test_a_rerun_into_the_same_file_says_it_skipped_the_molecules_measured(targets, filled, capsys):
    folder, structures, cache, _ = filled
    before = (folder / "filled.jsonl").read_text()
    assert targets.main(["--structures", str(structures), "--out", str(folder / "filled.jsonl"), "--cache",
                         str(cache), "--scf"]) == 0
    printed = capsys.readouterr().out
    assert "skipped 1 frame(s) already in" in printed and "model: " in printed
    assert (folder / "filled.jsonl").read_text() == before  # nothing measured, nothing written


def test_a_rerun_with_another_guess_adds_only_its_scf_run(targets, filled, tmp_path, monkeypatch):
    folder, structures, cache, computed = filled
    out = tmp_path / "guesses.jsonl"
    out.write_text((folder / "filled.jsonl").read_text())
    monkeypatch.setattr(targets, "compute_exact", lambda *a, **k: pytest.fail("the cache was not used"))
    assert targets.main(["--structures", str(structures), "--out", str(out), "--cache", str(cache), "--scf",
                         "--guesses", "model:exact_exchange=1"]) == 0
    first, added = (json.loads(line) for line in out.read_text().splitlines())
    scf = added["scf"]
    assert scf["minao"] == first["scf"]["minao"] and scf["model"] == first["scf"]["model"]  # kept, not run again
    assert "scf_model" not in set(added["seconds"]) - set(first["seconds"])
    run_xx = scf["model:exact_exchange=1"]
    assert run_xx["options"] == {"exact_exchange": 1} and "scf_model:exact_exchange=1" in added["seconds"]
    # the same ground state from every guess; one Kohn-Sham step with exact exchange needs no more cycles
    assert scf["same_state"] and abs(run_xx["energy_Ha"] - scf["minao"]["energy_Ha"]) < 1e-7
    assert run_xx["cycles_1e-09"] <= scf["model"]["cycles_1e-09"] + 1
    summary = targets.summary([added])
    assert "model:exact_exchange=1 guess" in summary and "SCF to 1e-09 on 1 molecules" in summary


def test_the_fit_guess_starts_from_the_fitted_exact_density(targets, filled, tmp_path):
    folder, structures, cache, computed = filled
    out = tmp_path / "fit.jsonl"
    out.write_text((folder / "filled.jsonl").read_text())
    assert targets.main(["--structures", str(structures), "--out", str(out), "--cache", str(cache), "--scf",
                         "--guesses", "fit"]) == 0
    scf = json.loads(out.read_text().splitlines()[-1])["scf"]
    # the fit of the exact density is closer to the SCF's answer than minao's atoms: fewer cycles, same state
    assert scf["same_state"] and scf["fit"]["cycles_1e-09"] < scf["minao"]["cycles_1e-09"]


@pytest.mark.parametrize("guess", ["minao", "model:exact_exchange", "model:no_such_option=1"])
def test_an_unknown_guess_is_refused_in_one_line(targets, filled, tmp_path, guess, capsys):
    folder, structures, cache, _ = filled
    assert targets.main(["--structures", str(structures), "--out", str(tmp_path / "x.jsonl"), "--scf",
                         "--guesses", guess]) == 2
    assert capsys.readouterr().err.strip() == (f"error: unknown guess {guess!r}: give model or fit, alone or with "
                                               ":key=value,... (options of guess_from_density)")
    assert not (tmp_path / "x.jsonl").exists()
