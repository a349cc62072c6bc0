#!/usr/bin/env bash
# raqib over N local feeds (default 10,000) against rss2email 3.14 over the
# first 1,000, in one run: see benches/feeds.py. Installs what it needs:
# nginx and GNU time (apt), rss2email and aiosmtpd (PyPI, in a venv under target/).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/time ]; then
  apt-get install -y -qq time >/dev/null
fi
if ! command -v nginx >/dev/null; then
  apt-get install -y -qq nginx-light >/dev/null
fi
venv=target/bench-venv
if [ ! -x "$venv/bin/r2e" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet rss2email==3.14 aiosmtpd
fi
cargo build --release --locked --quiet
PATH="$PWD/$venv/bin:$PATH" R2E="$PWD/$venv/bin/r2e" RAQIB="$PWD/target/release/raqib" \
  "$venv/bin/python" benches/feeds.py "$@"
