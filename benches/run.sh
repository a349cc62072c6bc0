#!/usr/bin/env bash
# The engine benchmarks and the Python baseline, in one run on one core, so
# the figures can be read as ratios measured under the same conditions. The
# pipeline benchmark runs again after the baseline: on a shared machine the
# load changes within minutes, and the two runs of the pipeline bracket the
# baseline's.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
python3 -m pip install --quiet datasketch >/dev/null 2>&1 || true
bench() {
  RAQIB_BENCH_DUMP="$out" taskset -c 0 cargo bench --bench engine -- --warm-up-time 2 --measurement-time 5 "$@" 2>&1 \
    | grep -E "^(text|watchlist)/|time:|thrpt:" | grep -v "%"
}
bench
taskset -c 0 python3 benches/baseline.py "$out/articles.jsonl"
bench "clean\+normalize\+fingerprint"
rm -rf "$out"
