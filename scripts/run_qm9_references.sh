#!/usr/bin/env bash
# PySCF reference densities (PBE0/cc-pVDZ, density-fitted SCF, grid level 1, conv_tol 1e-7; decontracted
# def2-universal-jfit coefficients) for the structure files of scripts/make_qm9_dataset.py.
#
#   cd /work/main && nohup setsid bash scripts/run_qm9_references.sh > /dev/null 2>&1 &
#
# Safe to rerun at any time: `e3density reference` skips rows already in its database, and a lock file keeps
# a second copy of this script from starting while one runs. Order: the first 800 training molecules (a
# random subset: train.extxyz is in random order), val_8, test_9, druglike (the two held-out test sets
# first, so the targets can be measured on whole sets), then the rest of train.
# One PySCF thread, niced; progress lines go to data/qm9/generation.log.
set -u
cd "$(dirname "$0")/.."
mkdir -p data/qm9
LOG=data/qm9/generation.log
exec 9> data/qm9/.run_qm9_references.lock
if ! flock -n 9; then
    echo "$(date -Is) another run_qm9_references.sh holds the lock; exiting" >> "$LOG"
    exit 0
fi
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
S=data/qm9/structures
SETTINGS=(--density-fit --grid-level 1 --conv-tol 1e-7)

step() {  # step INPUT INDEX OUTPUT
    echo "$(date -Is) start: $1 --index $2 -> $3" >> "$LOG"
    nice -n 10 .venv/bin/e3density reference "$1" --index "$2" -o "$3" "${SETTINGS[@]}" >> "$LOG" 2>&1
    echo "$(date -Is) exit $?: $1 --index $2 -> $3" >> "$LOG"
}

step $S/train.extxyz :800 data/qm9/train.db
step $S/val_8.extxyz : data/qm9/val_8.db
step $S/test_9.extxyz : data/qm9/test_9.db
step $S/druglike.extxyz : data/qm9/druglike.db
step $S/train.extxyz : data/qm9/train.db
echo "$(date -Is) all steps finished" >> "$LOG"
