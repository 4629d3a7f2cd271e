"""After the runs: summary tables, figures and the report, all from the runs' own records."""
from __future__ import annotations

from pathlib import Path

from ..fileio import atomic_path
from .curves import eps_by_l, norms_by_l
from .plots import plot_eps_by_l, plot_error_vs_lmax, plot_feature_norms
from .report import report_text
from .runner import run_directory
from .study import RunSpec, Study, output_label
from .summary import read_history, run_record, summarise_runs, write_summary

__all__ = ["analyse_study"]


def analyse_study(study: Study, out, finished: list[tuple[RunSpec, Path]], command: str) -> list[Path]:
    """Write summary.csv/json, the figures and report.md into ``out``; returns the files written."""
    out = Path(out)
    records = [run_record(spec, deployed) for spec, deployed in finished]
    rows = summarise_runs(records)
    write_summary(out, study.name, records, rows)
    written = [out / "summary.csv", out / "summary.json", *plot_error_vs_lmax(rows, out)]

    largest = max(study.hidden_lmax)
    stats_by_outputs: dict[str, list[list[dict]]] = {}
    eps_panels: dict[str, list] = {}
    loss_panels: dict[str, list] = {}
    for outputs in study.outputs:
        label = output_label(outputs)
        specs = [spec for spec, _ in finished if spec.hidden_lmax == largest and spec.output_lmax == outputs]
        histories = [read_history(run_directory(out, spec)) for spec in specs]
        stats = [s for _, s in histories if s]
        stats_by_outputs[label] = stats
        if stats:
            stem = f"feature_norms_out_{'all' if outputs is None else f'l{outputs}'}"
            written += plot_feature_norms([norms_by_l(s) for s in stats],
                                          f"hidden-feature norms by l, hidden l_max {largest}, outputs {label}", out, stem)
        curves = [eps_by_l(h) for h, _ in histories if any("val_eps" in r for r in h)]
        if curves:
            eps_panels[label] = curves
        losses = [eps_by_l(h, "val_loss_l") for h, _ in histories if h]
        if losses:
            loss_panels[label] = losses
    if eps_panels:
        written += plot_eps_by_l(eps_panels, f"validation eps_l by epoch, hidden l_max {largest}", out)
    if loss_panels:
        written += plot_eps_by_l(loss_panels, f"validation loss (density term) by l, every epoch, hidden l_max {largest}",
                                 out, "validation loss of the l components", "loss_l_vs_epoch")
    scale = study.train_config(finished[0][0], out) if finished else None  # every run shares these options
    text = report_text(study.name, command, rows, stats_by_outputs, largest, len(study.seeds),
                       epochs=scale.epochs if scale else 0, structures=scale.max_structures if scale else None)
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(text)
    return [*written, out / "report.md"]
