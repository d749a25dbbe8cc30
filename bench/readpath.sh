#!/usr/bin/env bash
# Read-path benchmark: one employee read over HTTPS with key auth and
# projection, against a bare net/http TLS server returning the same bytes,
# in the same run, at 32 connections. The same read runs against a second
# hrgate process on the same data with the audit trail off
# (audit.insecure_disable, which exists for this measurement only), so the
# trail's cost is measured in the same run too. Prints requests/s, p50, p99,
# the server's CPU per request (user + system time of its process, from
# /proc, over the run) and the ratios. Only loopback addresses, on ports free at the time, are
# used; each wrk run is bounded in time.
#
#   bench/readpath.sh [DURATION] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-15s}
CONNS=${2:-32}
# A whole number of seconds, minutes or hours, as wrk takes it; the CPU
# per request needs it in seconds.
case "$DURATION" in
  *[!0-9smh]* | [smh]* | *[smh]?*) echo "duration $DURATION: use e.g. 15s, 2m or 1h" >&2; exit 2 ;;
  *s) DURATION_S=${DURATION%s} ;;
  *m) DURATION_S=$(( ${DURATION%m} * 60 )) ;;
  *h) DURATION_S=$(( ${DURATION%h} * 3600 )) ;;
  *) DURATION_S=$DURATION ;;
esac
case "$CONNS" in
  '' | *[!0-9]*) echo "connections $CONNS: use a whole number, e.g. 32" >&2; exit 2 ;;
esac
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)"; exit 1; }

# free_port prints a loopback TCP port nothing listens on.
free_port() {
  local p
  while :; do
    p=$(shuf -i 20000-60999 -n 1)
    ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}

# The default limits (50 requests/s per key) would refuse most of the load:
# both servers run with limits far above it, so that the limiter still
# decides every request but admits them all.
unlimited="HRGATE_LIMITS__CREDENTIAL__RATE=1000000/s HRGATE_LIMITS__CREDENTIAL__BURST=1000000
HRGATE_LIMITS__CONSUMER__RATE=1000000/s HRGATE_LIMITS__CONSUMER__BURST=1000000
HRGATE_LIMITS__GLOBAL__RATE=1000000/s HRGATE_LIMITS__GLOBAL__BURST=1000000
HRGATE_LIMITS__ROUTES__TOKEN__RATE=1000000/s HRGATE_LIMITS__ROUTES__TOKEN__BURST=1000000
HRGATE_LIMITS__MAX_CONCURRENT=10000"

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/hrgate" ./cmd/hrgate
go build -o "$work/bare" ./bench/bare

data="$work/data"
"$work/hrgate" --data-dir "$data" --log-level warn sandbox seed --companies 3 --employees 1000 >/dev/null
"$work/hrgate" --data-dir "$data" --log-level warn consumers create payroll \
  --scopes "employees:read:identity,employment,compensation employees:read_masked:banking companies:*" >/dev/null
key=$("$work/hrgate" --data-dir "$data" --log-level warn keys create --consumer payroll --output json | sed -n 's/.*"key": "\(hrg_[^"]*\)".*/\1/p')
client=$("$work/hrgate" --data-dir "$data" --log-level warn clients create --consumer payroll --output json)
client_id=$(echo "$client" | sed -n 's/.*"client_id": "\(cli_[^"]*\)".*/\1/p')
client_secret=$(echo "$client" | sed -n 's/.*"client_secret": "\(hrg_cs_[^"]*\)".*/\1/p')
api=$(free_port)
env $unlimited ${HRGATE_BENCH_ENV:-} "$work/hrgate" --data-dir "$data" --log-level warn serve --addr "127.0.0.1:$api" --admin-addr 127.0.0.1:0 2>"$work/serve.log" &
api_pid=$!
for _ in $(seq 1 50); do curl -s --cacert "$data/tls/cert.pem" "https://127.0.0.1:$api/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
noaudit=$(free_port)
env $unlimited ${HRGATE_BENCH_ENV:-} HRGATE_AUDIT__INSECURE_DISABLE=true "$work/hrgate" --data-dir "$data" --log-level error serve \
  --addr "127.0.0.1:$noaudit" --admin-addr 127.0.0.1:0 2>"$work/serve-noaudit.log" &
noaudit_pid=$!
for _ in $(seq 1 50); do curl -s --cacert "$data/tls/cert.pem" "https://127.0.0.1:$noaudit/healthz" >/dev/null 2>&1 && break; sleep 0.2; done

# A JWT access token (15 minutes, longer than the runs) for the same grant.
jwt=$(curl -s --cacert "$data/tls/cert.pem" -u "$client_id:$client_secret" -d grant_type=client_credentials \
  https://127.0.0.1:$api/oauth2/token | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
[ -n "$jwt" ] || { echo "could not get an access token"; exit 1; }
id=$(curl -s --cacert "$data/tls/cert.pem" -H "Authorization: Bearer $key" "https://127.0.0.1:$api/v1/employees?limit=1" | sed -n 's/.*"id":"\(emp_[a-z0-9]*\)".*/\1/p' | head -1)
curl -s --cacert "$data/tls/cert.pem" -H "Authorization: Bearer $key" "https://127.0.0.1:$api/v1/employees/$id" > "$work/body.json"
echo "employee response: $(wc -c < "$work/body.json") bytes"

bare=$(free_port)
"$work/bare" -addr "127.0.0.1:$bare" -body "$work/body.json" 2>/dev/null &
bare_pid=$!
for _ in $(seq 1 50); do curl -sk "https://127.0.0.1:$bare/" >/dev/null 2>&1 && break; sleep 0.2; done

# cpu_ticks prints the user + system CPU time of process $1 so far, in
# clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() { # name pid url [header]
  local name=$1 pid=$2
  shift 2
  local out c0 c1
  c0=$(cpu_ticks "$pid")
  if [ -n "${2:-}" ]; then
    out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency -H "$2" "$1")
  else
    out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency "$1")
  fi
  c1=$(cpu_ticks "$pid")
  local rps p50 p99 errs
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  errs=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  # CPU µs per request: ticks / CLK_TCK over requests/s × duration.
  local cpu
  cpu=$(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v r="$rps" -v d="$DURATION_S" \
    'BEGIN { if (r > 0) printf "%.0f", t / hz * 1e6 / (r * d); else print "-" }')
  printf '%-28s %10s req/s   p50 %8s   p99 %8s   cpu/req %5s µs   non-2xx %s\n' "$name" "$rps" "$p50" "$p99" "$cpu" "${errs:-0}"
  echo "$rps" > "$work/$name.rps"
  echo "$cpu" > "$work/$name.cpu"
}
# Warm the servers, then measure the baseline and hrgate alternately.
wrk -t2 -c"$CONNS" -d3s "https://127.0.0.1:$bare/" >/dev/null
wrk -t2 -c"$CONNS" -d3s -H "Authorization: Bearer $key" "https://127.0.0.1:$api/v1/employees/$id" >/dev/null
wrk -t2 -c"$CONNS" -d3s -H "Authorization: Bearer $key" "https://127.0.0.1:$noaudit/v1/employees/$id" >/dev/null
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "wrk: 2 threads, $CONNS connections, $DURATION each"
run bare-net-http "$bare_pid" "https://127.0.0.1:$bare/"
run hrgate-employee-read "$api_pid" "https://127.0.0.1:$api/v1/employees/$id" "Authorization: Bearer $key"
run hrgate-read-no-audit "$noaudit_pid" "https://127.0.0.1:$noaudit/v1/employees/$id" "Authorization: Bearer $key"
run hrgate-employee-read-jwt "$api_pid" "https://127.0.0.1:$api/v1/employees/$id" "Authorization: Bearer $jwt"
awk -v a="$(cat "$work/hrgate-employee-read.rps")" -v b="$(cat "$work/bare-net-http.rps")" \
  'BEGIN { printf "ratio hrgate / bare: %.2f\n", a/b }'
awk -v a="$(cat "$work/hrgate-employee-read-jwt.rps")" -v b="$(cat "$work/hrgate-employee-read.rps")" \
  'BEGIN { printf "ratio JWT / API key: %.2f\n", a/b }'
awk -v a="$(cat "$work/hrgate-employee-read.rps")" -v b="$(cat "$work/hrgate-read-no-audit.rps")" \
  'BEGIN { printf "ratio audit on / off: %.2f\n", a/b }'
awk -v a="$(cat "$work/hrgate-employee-read.cpu")" -v b="$(cat "$work/hrgate-read-no-audit.cpu")" \
  'BEGIN { if (a > 0 && b > 0) printf "ratio server CPU per request, audit off / on: %.2f\n", b/a }'
echo "audit events recorded: $("$work/hrgate" --data-dir "$data" --log-level error audit verify | sed -n 's/^OK: \([0-9]*\) events.*/\1/p')"
