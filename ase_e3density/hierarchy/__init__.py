"""The hierarchy study of the founding paper (Rackers & Rao, *Hierarchical learning in Euclidean
neural networks*): how hidden features of each order l learn, as one resumable command.

``e3density hierarchy [STUDY.yaml] -o DIR`` trains the grid (hidden l_max x output restriction
x seed), then writes ``summary.csv``/``summary.json``, figures and ``report.md`` into DIR.
"""
from .analysis import analyse_study
from .runner import run_study
from .study import Study, packaged_study

__all__ = ["Study", "run_study", "analyse_study", "packaged_study"]
