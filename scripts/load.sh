#!/usr/bin/env bash
# Load run of the Threads API server with shared/tools/roundload (not a test: it reports figures).
# For each server — the empty axum baseline, aitp-rs on MemoryStore, aitp-rs on SqliteStore — it
# sweeps 1, 16 and 64 concurrent conversations. Server pinned to core 0, load tool to core 1.
#   scripts/load.sh [DURATION=20] [WARMUP=3]
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${AITP_SHARED_DIR:-../shared}
tool=$shared/tools/roundload
target=${ROUNDLOAD_TARGET:-target/roundload}
cargo build --release --manifest-path "$tool/Cargo.toml" --target-dir "$target" >&2
cargo build --release -p aitp-tests --bin aitp-load-server >&2
pinned=$target/roundload-pinned
printf '#!/bin/sh\nexec taskset -c 1 %s "$@"\n' "$(realpath "$target/release/roundload")" > "$pinned"
chmod +x "$pinned"
db=$(mktemp -d)/load.db
port=18080
for mode in empty memory sqlite; do
  taskset -c 0 target/release/aitp-load-server "$mode" "127.0.0.1:$port" "$db" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/v1/threads" -X POST -d '{}' && break; sleep 0.1; done
  echo "== $mode"
  ROUNDLOAD="$pinned" DURATION=${DURATION:-20} WARMUP=${WARMUP:-3} \
    bash "$tool/bench.sh" "http://127.0.0.1:$port/v1" "$pid" --threads 1 || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  port=$((port + 1))
done
