#!/usr/bin/env bash
# Reference phonons of the v6 crystal set (v5 plus 61 transition-metal hydrides and M2X carbides and nitrides)
# with SevenNet-l3i5 (sevenn wheel, CPU, one thread, niced). Resumable: a rerun skips the rows already in the
# database (same structure and settings) and computes the rest; the progress lines are appended to
# data/phonons/generation_v2.log. The input is data/phonons/crystals_v6.extxyz reordered by
# scripts/order_crystals_by_cost.py: ordered crystals before alloys, in each hydrides (estimated cost up to
# 15,000) first, then the rest, each cheapest first, from 2026-12-07 08:03 UTC (before: crystals_v5 the same
# way from 2026-12-07 05:35, crystals_v4 hydrides first from 2026-12-06 21:00, cheapest first from 20:37;
# crystals_v2.extxyz, crystals_v2_by_cost from 06:30, crystals_v3_by_cost from 10:40, crystals_v3_light_first
# (Be, B, C, N up to estimated cost 6100 first) from 12:10; row uids hash the structure, and every file holds
# the same frames with the same info, so every row is kept).
#   cd /work/main && nohup setsid bash scripts/run_phonon_references.sh >/dev/null 2>&1 &
# PHONON_WORKERS=2 in the environment computes on a Dask LocalCluster of two one-thread workers (both cores);
# the rows are the same as a one-process run's.
set -u
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
echo "=== $(date -u +%FT%TZ) start (pid $$) ===" >> data/phonons/generation_v2.log
nice -n 10 .venv/bin/e3density phonons data/phonons/crystals_v6_hydrides_first.extxyz -o data/phonons/sevennet_l3i5.db \
    --calculator sevennet-l3i5 --displacement 0.03 --min-width 10 --mesh 30 --fmax 2e-3 ${PHONON_WORKERS:+--workers "$PHONON_WORKERS"} \
    >> data/phonons/generation_v2.log 2>&1
rc=$?
echo "=== $(date -u +%FT%TZ) exit $rc ===" >> data/phonons/generation_v2.log
