#!/usr/bin/env bash
# Run depth sweeps on one GPU machine for at most $BUDGET seconds, the worker processes sharing
# the GPU through CUDA MPS (without it, processes take turns on the GPU and small-graph cells
# run about half as fast), then pack each sweep's journal and curves into
# $OUT/sweeps.tar.gz. Unpacked into the repository, the journals resume the sweeps (rerun the
# same command) and `deepgnn sweep report` writes their tables from them.
#
#   BUDGET=480 sweeps/run_gpu.sh paper_planetoid:10 tuned_cora:4
#
# Each argument is <sweep>:<workers> for sweeps/<sweep>.toml. Needs optuna (and ogb for the
# molecule sweeps): where pip cannot reach an index, put their wheels in .whl/ (they are
# installed into .site/). Data: $DEEPGNN_DATA, default .gpudata/ in the repository.
set -uo pipefail
BUDGET=${BUDGET:-480}
OUT=${OUT:-out}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target .site .whl/*.whl || exit 1
    export PYTHONPATH="$PWD/.site:$PWD"
fi
export DEEPGNN_DATA=${DEEPGNN_DATA:-$PWD/.gpudata} PYTHONUNBUFFERED=1
# One thread per worker: the workers share the cores, and their CPU work is small and serial.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
nvidia-cuda-mps-control -d 2>/dev/null || true
names=()
for spec in "$@"; do
    name=${spec%%:*}
    workers=${spec##*:}
    names+=("$name")
    timeout --signal=INT --kill-after=60 "$BUDGET" python3 -m deepgnn sweep run \
        "sweeps/$name.toml" --workers "$workers" --devices cuda:0 --no-progress \
        >"$OUT/$name.log" 2>&1 &
done
wait
files=()
for name in "${names[@]}"; do
    python3 -m deepgnn sweep status "sweeps/$name.toml" | tee -a "$OUT/status.txt"
    files+=("results/$name/sweep.journal")
    [ -d "results/$name/curves" ] && files+=("results/$name/curves")
done
tar czf "$OUT/sweeps.tar.gz" "${files[@]}"
echo 'quit' | nvidia-cuda-mps-control 2>/dev/null || true
