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
# Both sides in rounds, alternately, on the same articles and core.
rounds() {
  RAQIB_BENCH_ROUNDS=1 taskset -c 0 cargo bench --bench engine 2>/dev/null | grep '^{' >>"$out/rounds.jsonl"
  taskset -c 0 python3 benches/baseline.py "$out/articles.jsonl" >>"$out/rounds.jsonl"
}
rounds
rounds
bench "clean\+normalize\+fingerprint"
python3 - "$out/rounds.jsonl" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for r in rows:
    print(json.dumps(r))
for k in ("articles_per_s", "median_articles_per_s"):
    e = max(r[k] for r in rows if "engine" in r)
    b = max(r[k] for r in rows if "baseline" in r)
    print(f"best of rounds ({k}): engine {e:.0f}/s, baseline {b:.0f}/s, ratio {e / b:.1f}x")
EOF
rm -rf "$out"
