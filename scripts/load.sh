#!/usr/bin/env bash
# Load run of the Threads API server with shared/tools/roundload (not a test: it reports figures).
# Sweeps 1, 16 and 64 concurrent conversations (LEVELS) against, in one run:
#   empty        the bare axum baseline (fixed answers, no work): the ceiling of machine and tool
#   balancer     aitp-balancer alone in front of one empty server: what the proxy itself costs
#   memory       aitp-rs on MemoryStore
#   sqlite       aitp-rs on SqliteStore
#   postgres-1   aitp-rs on PgStore, one replica
#   postgres-2   two PgStore replicas on one database behind aitp-balancer (round robin per
#                request, keep-alive on both sides, no sticky sessions)
# PostgreSQL is a throwaway cluster this script starts (initdb into a temporary directory, a free
# loopback port) and stops at the end. Its settings are initdb's defaults — fsync, synchronous_commit
# and full_page_writes on, shared_buffers 128MB, max_connections 100 — plus listen_addresses=127.0.0.1
# and a private socket directory; each PgStore replica pools up to 16 connections (AITP_PG_POOL).
# The postgres modes are skipped, with a notice, when PostgreSQL's binaries are not found
# (AITP_POSTGRES_BIN, else /usr/lib/postgresql/<newest>/bin).
#
# Pinning (2 cores): everything serving — the servers, the replicas, PostgreSQL and the balancer —
# on core 0 (SERVER_CPUS), roundload (--threads 1) on core 1 (TOOL_CPUS).
#
# Per level it prints roundload's JSON plus: server_cpu_pct (aitp server processes + PostgreSQL,
# 100 = one core), of which pg_cpu_pct; balancer_cpu_pct apart; cpu_ms_per_round (server +
# PostgreSQL CPU ÷ rounds) and balancer_cpu_ms_per_round. A table of all of it comes last.
# PG_STATEMENTS=1 also loads pg_stat_statements and reports, per postgres level, the statements the
# replicas sent (each a round trip; BEGIN and COMMIT included) and the transactions committed, per
# round (a round creates one run: the count of run inserts). PG_OPTIONS adds server settings
# ("-c name=value ..."), for experiments; the settings in force are printed at the start.
# PG_SOCKET=1 connects the replicas over the Unix socket (see pg_config). SERVER_CPUS and TOOL_CPUS
# move the pinning (SERVER_CPUS=0,1 TOOL_CPUS=0,1: everything shares both cores).
#   scripts/load.sh [DURATION=20] [WARMUP=3] [LEVELS="1 16 64"] [MODES="empty balancer ..."]
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${AITP_SHARED_DIR:-../shared}
tool=$shared/tools/roundload
target=${ROUNDLOAD_TARGET:-target/roundload}
server_cpus=${SERVER_CPUS:-0}
tool_cpus=${TOOL_CPUS:-1}
modes=${MODES:-empty balancer memory sqlite postgres-1 postgres-2}
cargo build --release --manifest-path "$tool/Cargo.toml" --target-dir "$target" >&2
cargo build --release -p aitp-tests --bin aitp-load-server --bin aitp-balancer >&2
pinned=$target/roundload-pinned
printf '#!/bin/sh\nexec taskset -c %s %s "$@"\n' "$tool_cpus" "$(realpath "$target/release/roundload")" > "$pinned"
chmod +x "$pinned"
server=target/release/aitp-load-server
balancer=target/release/aitp-balancer
tck=$(getconf CLK_TCK)

work=$(mktemp -d)
results=$work/results.jsonl
started=()      # PIDs this script started, stopped at the end
postmaster=     # PostgreSQL's postmaster, stopped at the end
cleanup() {
  set +e
  for pid in "${started[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${started[@]}"; do wait "$pid" 2>/dev/null; done
  if [ -n "$postmaster" ]; then
    kill -INT "$postmaster" 2>/dev/null   # fast shutdown
    while kill -0 "$postmaster" 2>/dev/null; do sleep 0.1; done
  fi
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until a server answers on the port (a POST of an empty thread), at most 30 s.
wait_http() {
  for _ in $(seq 300); do
    curl -s -o /dev/null "http://127.0.0.1:$1/v1/threads" -X POST -d '{}' && return 0
    sleep 0.1
  done
  echo "nothing answers on port $1" >&2
  return 1
}

# Summed CPU ticks (user + system, + reaped children) of the given PIDs and their descendants.
ticks() {
  python3 - "$@" <<'PY'
import os, sys
roots = {int(p) for p in sys.argv[1:]}
parent = {}
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            with open(f"/proc/{p}/stat") as f:
                parent[int(p)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            pass
tree, grew = set(roots), True
while grew:
    grew = False
    for p, pp in parent.items():
        if pp in tree and p not in tree:
            tree.add(p); grew = True
total = 0
for p in tree:
    try:
        with open(f"/proc/{p}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += sum(int(x) for x in fields[11:15])
    except (OSError, IndexError, ValueError):
        pass
print(total)
PY
}

# With PG_STATEMENTS: statements and commits in database $1 since the last call, and the
# number of runs created, as "statements commits runs" (then resets the counts).
pg_counts() {
  [ -n "${PG_STATEMENTS:-}" ] && [ -n "${1:-}" ] || { echo "0 0 0"; return; }
  psql -h 127.0.0.1 -p "$pgport" -U aitp -d "$1" -Atq -F ' ' -c "
    SELECT (SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s
              JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database()
              AND query NOT LIKE '%pg_stat%'),
           (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
           (SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s
              JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database()
              AND query LIKE '%INSERT INTO aitp_runs (thread_id, id, status, json%')" \
    -c "SELECT pg_stat_statements_reset()" -c "SELECT pg_stat_reset()" | sed -n 1p
}

# measure NAME PORT "SERVER PIDS" "POSTGRES PID or empty" "BALANCER PID or empty" [DATABASE]
measure() {
  local name=$1 port=$2 servers=$3 pg=$4 bal=$5 db=${6:-} c out counts
  echo "== $name" >&2
  for c in ${LEVELS:-1 16 64}; do
    local s0 p0 b0 w0 s1 p1 b1 w1
    pg_counts "$db" >/dev/null
    s0=$(ticks $servers); p0=$(ticks $pg); b0=$(ticks $bal); w0=$(date +%s.%N)
    out=$(ROUNDLOAD="$pinned" LEVELS=$c DURATION=${DURATION:-20} WARMUP=${WARMUP:-3} \
      bash "$tool/bench.sh" "http://127.0.0.1:$port/v1" "$servers $pg" --threads 1) || {
      echo "roundload failed for $name at $c" >&2; continue; }
    s1=$(ticks $servers); p1=$(ticks $pg); b1=$(ticks $bal); w1=$(date +%s.%N)
    counts=$(pg_counts "$db")
    python3 - "$name" "$out" "$tck" "$w0" "$w1" "$s0" "$s1" "$p0" "$p1" "$b0" "$b1" $counts <<'PY' | tee -a "$results"
import json, sys
name, out, tck = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
wall = float(sys.argv[5]) - float(sys.argv[4])
s0, s1, p0, p1, b0, b1 = (int(x) for x in sys.argv[6:12])
pct = lambda t: 100 * t / tck / wall  # of one core, over the whole level (warmup included)
rps = out["rounds_per_s"] or float("nan")
out["server"] = name
out["aitp_cpu_pct"] = round(pct(s1 - s0), 1)
out["pg_cpu_pct"] = round(pct(p1 - p0), 1)
out["server_cpu_pct"] = round(pct(s1 - s0 + p1 - p0), 1)
out["balancer_cpu_pct"] = round(pct(b1 - b0), 1)
# CPU ms per round: the CPU rate over the rounds' rate.
out["cpu_ms_per_round"] = round(10 * out["server_cpu_pct"] / rps, 3)
out["balancer_cpu_ms_per_round"] = round(10 * out["balancer_cpu_pct"] / rps, 3)
statements, commits, runs = (int(x) for x in sys.argv[12:15])
if runs:
    out["pg_statements_per_round"] = round(statements / runs, 2)
    out["pg_commits_per_round"] = round(commits / runs, 2)
print(json.dumps(out), flush=True)
PY
  done
}

# Starts a load server (pinned) on port $1, mode $2, argument $3; its PID in $pid.
start_server() {
  taskset -c "$server_cpus" "$server" "$2" "127.0.0.1:$1" "${@:3}" >"$work/server.$1.log" 2>&1 &
  pid=$!
  started+=("$pid")
}

# Starts the balancer (pinned) on port $1 in front of the addresses that follow; its PID in $bal.
start_balancer() {
  local port=$1; shift
  taskset -c "$server_cpus" "$balancer" "127.0.0.1:$port" "$@" >"$work/balancer.$port.log" 2>&1 &
  bal=$!
  started+=("$bal")
}

stop() {
  for pid in "$@"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
}

# The throwaway PostgreSQL cluster; sets pgport and postmaster, or returns 1 if not installed.
start_postgres() {
  local bin=${AITP_POSTGRES_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "note: PostgreSQL's server binaries not found; skipping the postgres modes" \
      "(apt-get install -y postgresql, or set AITP_POSTGRES_BIN)" >&2
    return 1
  fi
  local as=() dir=$work/pg
  mkdir -p "$dir"
  # initdb and postgres refuse to run as root: run them as Debian's `postgres` user.
  if [ "$(id -u)" = 0 ]; then chmod 755 "$work"; chown postgres: "$dir"; as=(runuser -u postgres --); fi
  "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U aitp -E UTF8 --locale=C >"$dir/initdb.log"
  pgport=$(free_port)
  local extra=()
  [ -z "${PG_STATEMENTS:-}" ] || extra=(-c shared_preload_libraries=pg_stat_statements)
  # PG_OPTIONS: more server settings, for experiments (e.g. "-c synchronous_commit=off").
  read -r -a more <<<"${PG_OPTIONS:-}"
  extra+=("${more[@]}")
  taskset -c "$server_cpus" "${as[@]}" "$bin/postgres" -D "$dir/data" -p "$pgport" -k "$dir" \
    -c listen_addresses=127.0.0.1 "${extra[@]}" >"$dir/server.log" 2>&1 &
  local deadline=$((SECONDS + 60))
  until "$bin/pg_isready" -q -h 127.0.0.1 -p "$pgport" -U aitp -d postgres; do
    if [ $SECONDS -gt $deadline ]; then cat "$dir/server.log" >&2; return 1; fi
    sleep 0.1
  done
  postmaster=$(head -1 "$dir/data/postmaster.pid")
  for db in load1 load2; do
    "$bin/createdb" -h 127.0.0.1 -p "$pgport" -U aitp "$db"
    [ -z "${PG_STATEMENTS:-}" ] ||
      psql -q -h 127.0.0.1 -p "$pgport" -U aitp -d "$db" -c "CREATE EXTENSION pg_stat_statements"
  done
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on port $pgport:" \
    "$(psql -h 127.0.0.1 -p "$pgport" -U aitp -d postgres -Atc \
      "select string_agg(name || '=' || current_setting(name), ' ') from pg_settings where name in
       ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'max_connections')")" >&2
}

pg_ok=
case " $modes " in *" postgres-"*) start_postgres && pg_ok=1 ;; esac
# PG_SOCKET=1: the replicas connect over PostgreSQL's Unix socket instead of loopback TCP (what
# a replica on the database's own host would do); TCP by default, as replicas on other hosts.
pg_config() {
  local host=127.0.0.1
  [ -z "${PG_SOCKET:-}" ] || host=$work/pg
  echo "host=$host port=$pgport user=aitp dbname=$1"
}

for mode in $modes; do
  port=$(free_port)
  case $mode in
    empty|memory|sqlite)
      start_server "$port" "$mode" "$work/load.db"
      wait_http "$port"
      measure "$mode" "$port" "$pid" "" ""
      stop "$pid" ;;
    balancer)
      back=$(free_port)
      start_server "$back" empty
      start_balancer "$port" "127.0.0.1:$back"
      wait_http "$back"; wait_http "$port"
      measure "balancer+empty" "$port" "$pid" "" "$bal"
      stop "$bal" "$pid" ;;
    postgres-1)
      [ -n "$pg_ok" ] || continue
      start_server "$port" postgres "$(pg_config load1)"
      wait_http "$port"
      measure "postgres-1" "$port" "$pid" "$postmaster" "" load1
      stop "$pid" ;;
    postgres-2)
      [ -n "$pg_ok" ] || continue
      a=$(free_port); b=$(free_port)
      start_server "$a" postgres "$(pg_config load2)"; pa=$pid
      wait_http "$a"   # the first applies the migrations; then the second starts
      start_server "$b" postgres "$(pg_config load2)"; pb=$pid
      wait_http "$b"
      start_balancer "$port" "127.0.0.1:$a" "127.0.0.1:$b"
      wait_http "$port"
      measure "postgres-2" "$port" "$pa $pb" "$postmaster" "$bal" load2
      stop "$bal" "$pa" "$pb" ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
  esac
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"\n{'server':<16}{'c':>4}{'rounds/s':>10}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}"
      f"{'srv+pg %':>9}{'pg %':>7}{'cpu ms/rnd':>11}{'bal %':>7}{'bal ms/rnd':>11}")
for r in rows:
    l = r["latency_ms"]
    print(f"{r['server']:<16}{r['concurrency']:>4}{r['rounds_per_s']:>10.0f}{l['p50']:>8.2f}"
          f"{l['p99']:>8.2f}{r['error_total']:>7}{r['server_cpu_pct']:>9.1f}{r['pg_cpu_pct']:>7.1f}"
          f"{r['cpu_ms_per_round']:>11.3f}{r['balancer_cpu_pct']:>7.1f}"
          f"{r['balancer_cpu_ms_per_round']:>11.3f}"
          + (f"  {r['pg_statements_per_round']} statements, {r['pg_commits_per_round']} commits/round"
             if "pg_statements_per_round" in r else ""))
PY
