"""``report.md``: whether the founding paper's two findings hold in this study, with the numbers.

1. *The output's order decides how useful non-scalar hidden features are*: the error drop from
   hidden l_max 0 to the best l_max > 0 should grow with the order of the learned outputs.
2. *Hidden features organise into a hierarchy by l during training*: at the end, in every
   hidden interaction layer of the largest-l_max networks (all but the last, whose output also
   carries the irreps only the output heads need), the mean feature norm falls as l rises.
"""
from __future__ import annotations

import numpy as np

from .curves import layer_norms_by_l

__all__ = ["output_order_finding", "hierarchy_finding", "report_text", "scale_note", "MIN_EPOCHS", "MIN_STRUCTURES"]

MIN_EPOCHS = 20
"""Runs shorter than this stop long before their errors settle (the quick study runs 4 epochs; the
default study 40): their verdicts are reported as not tested."""
MIN_STRUCTURES = 100
"""Runs on fewer training structures than this (the quick study uses 16; the default study all 120) cannot
separate the configurations beyond the seed spread: their verdicts are reported as not tested."""


def output_order_finding(rows: list[dict]) -> tuple[str, list[str]]:
    """(verdict, table lines) for finding 1, from the per-configuration summary rows."""
    lines = ["| outputs | eps at l_max 0 (%) | best eps at l_max > 0 (%) | at l_max | drop (%) | seed spread (% of eps at l_max 0) |",
             "| --- | --- | --- | --- | --- | --- |"]
    drops = {}
    for outputs in dict.fromkeys(r["outputs"] for r in rows):
        sel = {r["hidden_lmax"]: r for r in rows if r["outputs"] == outputs}
        if 0 not in sel or len(sel) < 2:
            continue
        base = sel[0]
        best = min((r for lmax, r in sel.items() if lmax > 0), key=lambda r: r["eps_mean"])
        drop = 100 * (base["eps_mean"] - best["eps_mean"]) / base["eps_mean"]
        spread = 100 * float(np.hypot(base["eps_std"], best["eps_std"])) / base["eps_mean"]
        drops[outputs] = (drop, spread)
        lines.append(f"| {outputs} | {base['eps_mean']:.3f} ± {base['eps_std']:.3f} | {best['eps_mean']:.3f} ± "
                     f"{best['eps_std']:.3f} | {best['hidden_lmax']} | {drop:.1f} | {spread:.1f} |")
    if len(drops) < 2:
        return "not testable: the study needs hidden l_max 0 and another, for at least two output restrictions", lines
    order = list(drops)  # as the study lists them: lowest output order first
    tolerance = [max(drops[a][1], drops[b][1]) for a, b in zip(order, order[1:])]
    rising = all(drops[b][0] >= drops[a][0] - tol for (a, b), tol in zip(zip(order, order[1:]), tolerance))
    first, last = drops[order[0]], drops[order[-1]]
    beyond = last[0] - first[0] > max(first[1], last[1])
    listed = ", ".join(f"{o} {d[0]:.1f} %" for o, d in drops.items())
    if rising and beyond:
        flat = [f"{a} -> {b}" for (a, b) in zip(order, order[1:]) if drops[b][0] < drops[a][0] + max(drops[a][1], drops[b][1])]
        verdict = (f"holds: non-scalar hidden features cut the error by {first[0]:.1f} % for outputs {order[0]} and "
                   f"{last[0]:.1f} % for outputs {order[-1]} ({listed}), beyond the seed spread"
                   + (f"; within the spread from {', '.join(flat)}" if flat else ""))
    elif rising:
        verdict = f"weakly: the drop rises with the output order ({listed}), but not beyond the seed spread"
    else:
        verdict = f"does not hold here: drops {listed} do not rise with the output order"
    return verdict, lines


def _ordered(norms: dict[int, float]) -> bool:
    ls = sorted(norms)
    return all(norms[a] > norms[b] for a, b in zip(ls, ls[1:]))


def hierarchy_finding(stats_by_outputs: dict[str, list[list[dict]]]) -> tuple[str, list[str]]:
    """(verdict, table lines) for finding 2: per output restriction and hidden layer, seed-mean norms by l.

    Two measures: the channel norm as recorded, and the RMS per component, norm / sqrt(2l + 1), which
    takes out the sqrt(2l + 1) that component-normalised features of order l carry at any size.
    """
    lines = ["| outputs | layer | norm by l, step 0 | norm by l, end | RMS per component by l, end | falls with l (norm / per component) |",
             "| --- | --- | --- | --- | --- | --- |"]
    counts = {"norm": [0, 0], "component": [0, 0]}  # [layers ordered at the end, at step 0]
    checked = 0
    for outputs, runs in stats_by_outputs.items():
        runs = [r for r in runs if r]
        if not runs:
            continue
        n_layers = len(runs[0][0]["layers"]) - 1  # layers[0] is the embedding
        for k in range(1, max(n_layers, 2)):  # the hidden layers; the last one also makes the heads' extra irreps
            first = _seed_mean([layer_norms_by_l(r[0]["layers"][k]) for r in runs])
            last = _seed_mean([layer_norms_by_l(r[-1]["layers"][k]) for r in runs])
            if len(last) < 2:
                continue
            checked += 1
            per_component = {l: v / np.sqrt(2 * l + 1) for l, v in last.items()}
            first_component = {l: v / np.sqrt(2 * l + 1) for l, v in first.items()}
            counts["norm"][0] += _ordered(last)
            counts["norm"][1] += _ordered(first)
            counts["component"][0] += _ordered(per_component)
            counts["component"][1] += _ordered(first_component)
            fmt = lambda d: ", ".join(f"{l}: {v:.3g}" for l, v in d.items())  # noqa: E731
            yes = lambda d: "yes" if _ordered(d) else "no"  # noqa: E731
            lines.append(f"| {outputs} | {k} | {fmt(first)} | {fmt(last)} | {fmt(per_component)} | "
                         f"{yes(last)} / {yes(per_component)} |")
    if not checked:
        return "not testable: no run with hidden features of l > 0 recorded feature statistics", lines
    n_norm, n_comp = counts["norm"][0], counts["component"][0]
    best = max(n_norm, n_comp)
    where = f"{checked} (output restriction, hidden layer) pairs"
    if n_norm == checked:
        verdict = f"holds: at the end the channel norms fall with l in all {where}"
    elif best > checked / 2:
        verdict = f"partly: at the end the norms fall with l in {n_norm} of {where}, per component in {n_comp}"
    else:
        verdict = f"does not hold here: at the end the channel norms fall with l in {n_norm} of {where}, per component in {n_comp}"
    return (verdict + f" (at step 0: {counts['norm'][1]} and {counts['component'][1]} of {checked})"), lines


def _seed_mean(dicts: list[dict[int, float]]) -> dict[int, float]:
    return {l: float(np.mean([d[l] for d in dicts])) for l in dicts[0]}


def scale_note(epochs: int, structures: int | None) -> str | None:
    """Why a study of this scale cannot test the findings (``None`` when it can)."""
    if epochs >= MIN_EPOCHS and (structures is None or structures >= MIN_STRUCTURES):
        return None
    on = "all structures" if structures is None else f"{structures} training structures"
    return (f"not tested at this scale: each run trains {epochs} epochs on {on} (the findings need at least "
            f"{MIN_EPOCHS} epochs on at least {MIN_STRUCTURES} structures); this study shows that every part runs, "
            "and its numbers below are not evidence either way. Run the default study (`e3density hierarchy`) "
            "to test them")


def report_text(name: str, command: str, rows: list[dict], stats_by_outputs: dict[str, list[list[dict]]],
                largest_lmax: int, n_seeds: int, epochs: int = MIN_EPOCHS, structures: int | None = None) -> str:
    """The whole report, in Markdown; ``epochs`` and ``structures`` (training structures per run, ``None``:
    all) say whether the study can test the findings at all (:func:`scale_note`)."""
    v1, t1 = output_order_finding(rows)
    v2, t2 = hierarchy_finding(stats_by_outputs)
    untested = scale_note(epochs, structures)
    if untested:
        v1, v2 = (f"{untested} (as computed: {v})" for v in (v1, v2))
    return "\n".join([
        f"# Hierarchy study: {name}", "",
        f"Made by `{command}`; {len(rows)} configurations x {n_seeds} seeds. Errors are validation errors of each "
        "run's best epoch (its deployed file), against the reference restricted to the learned outputs.", "",
        "## Finding 1: the output's order decides how much non-scalar hidden features help", "",
        f"**{v1}.**", "", *t1, "",
        f"## Finding 2: hidden-feature norms fall with l (networks with hidden l_max {largest_lmax})", "",
        f"**{v2}.**", "", *t2, "",
        "Figures: `error_vs_lmax.png`, `feature_norms_out_*.png`, `eps_l_vs_epoch.png`, `loss_l_vs_epoch.png` "
        "(PDF beside each).", ""])
