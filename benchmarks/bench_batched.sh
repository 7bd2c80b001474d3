#!/usr/bin/env bash
# Cells per GPU-minute, batched against the multi-worker runner under MPS, on this machine:
#
#   benchmarks/bench_batched.sh                  # writes results/bench_batched.{json,md}
#   benchmarks/bench_batched.sh --quick          # a few small cells, any device
#
# Where a command may run at most 10 minutes, the same machine runs the parts in turn (each
# writes bench_batched_<part>.{json,md} into --out), and --combine merges them:
#
#   benchmarks/bench_batched.sh --part checks --out "$OUT"        # ~3 min
#   benchmarks/bench_batched.sh --part cora --out "$OUT"          # <= ~9 min
#   benchmarks/bench_batched.sh --part minesweeper --out "$OUT"   # <= ~9 min
#   benchmarks/bench_batched.sh --part tuning --out "$OUT"        # <= ~9 min (tuning trials)
#   python benchmarks/bench_batched.py --combine bench_batched_{checks,cora,minesweeper}.json
#
# Arguments go to benchmarks/bench_batched.py (--slices, --batched-workers, --budget, ...).
# Needs optuna: where pip cannot reach an index, put its wheels in .whl/ (installed into .site/,
# as sweeps/run_gpu.sh does). Data: $DEEPGNN_DATA (minesweeper), default .gpudata/ here.
set -euo pipefail
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target .site .whl/*.whl
    export PYTHONPATH="$PWD/.site:$PWD"
else
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export DEEPGNN_DATA=${DEEPGNN_DATA:-$PWD/.gpudata} PYTHONUNBUFFERED=1
# One thread per worker, as sweeps/run_gpu.sh: the workers share the cores.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
exec python3 benchmarks/bench_batched.py "$@"
