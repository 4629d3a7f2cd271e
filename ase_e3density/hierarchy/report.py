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

__all__ = ["output_order_finding", "hierarchy_finding", "report_text"]


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
    rising = all(drops[a][0] <= drops[b][0] for a, b in zip(order, order[1:]))
    first, last = drops[order[0]], drops[order[-1]]
    beyond = last[0] - first[0] > max(first[1], last[1])
    if rising and beyond:
        verdict = (f"holds: non-scalar hidden features cut the error by {first[0]:.1f} % for outputs {order[0]} and "
                   f"{last[0]:.1f} % for outputs {order[-1]}, rising with the output order, beyond the seed spread")
    elif rising:
        verdict = (f"weakly: the drop rises with the output order ({', '.join(f'{o} {d[0]:.1f} %' for o, d in drops.items())}), "
                   "but not beyond the seed spread")
    else:
        verdict = f"does not hold here: drops {', '.join(f'{o} {d[0]:.1f} %' for o, d in drops.items())} do not rise with the output order"
    return verdict, lines


def _ordered(norms: dict[int, float]) -> bool:
    ls = sorted(norms)
    return all(norms[a] > norms[b] for a, b in zip(ls, ls[1:]))


def hierarchy_finding(stats_by_outputs: dict[str, list[list[dict]]]) -> tuple[str, list[str]]:
    """(verdict, table lines) for finding 2: per output restriction, the seed-mean norms per layer, first and last record."""
    lines = ["| outputs | layer | norms by l at step 0 | norms by l at the end | falls with l at the end |",
             "| --- | --- | --- | --- | --- |"]
    final_ordered, initial_ordered, checked = [], [], 0
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
            final_ordered.append(_ordered(last))
            initial_ordered.append(_ordered(first))
            fmt = lambda d: ", ".join(f"{l}: {v:.3g}" for l, v in d.items())  # noqa: E731
            lines.append(f"| {outputs} | {k} | {fmt(first)} | {fmt(last)} | {'yes' if _ordered(last) else 'no'} |")
    if not checked:
        return "not testable: no run with hidden features of l > 0 recorded feature statistics", lines
    n_final, n_initial = sum(final_ordered), sum(initial_ordered)
    if n_final == checked:
        verdict = f"holds: at the end the norms fall with l in all {checked} layers"
    elif n_final > checked / 2:
        verdict = f"mostly: at the end the norms fall with l in {n_final} of {checked} layers"
    else:
        verdict = f"does not hold here: the norms fall with l in only {n_final} of {checked} layers at the end"
    return verdict + f" (at step 0: {n_initial} of {checked})", lines


def _seed_mean(dicts: list[dict[int, float]]) -> dict[int, float]:
    return {l: float(np.mean([d[l] for d in dicts])) for l in dicts[0]}


def report_text(name: str, command: str, rows: list[dict], stats_by_outputs: dict[str, list[list[dict]]],
                largest_lmax: int, n_seeds: int) -> str:
    """The whole report, in Markdown."""
    v1, t1 = output_order_finding(rows)
    v2, t2 = hierarchy_finding(stats_by_outputs)
    return "\n".join([
        f"# Hierarchy study: {name}", "",
        f"Made by `{command}`; {len(rows)} configurations x {n_seeds} seeds. Errors are validation errors of each "
        "run's best epoch (its deployed file), against the reference restricted to the learned outputs.", "",
        "## Finding 1: the output's order decides how much non-scalar hidden features help", "",
        f"**{v1}.**", "", *t1, "",
        f"## Finding 2: hidden-feature norms fall with l (networks with hidden l_max {largest_lmax})", "",
        f"**{v2}.**", "", *t2, "",
        "Figures: `error_vs_lmax.png`, `feature_norms_out_*.png`, `eps_l_vs_epoch.png` (PDF beside each).", ""])
