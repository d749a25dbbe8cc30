#!/usr/bin/env bash
# Seeding benchmark: `hrgate sandbox seed` of one company with N employees
# (default 100,000) into a fresh SQLite data dir, reporting wall time and
# peak resident memory (GNU time).
#
#   bench/seed.sh [EMPLOYEES]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
[ -x /usr/bin/time ] || { echo "GNU time is required (apt-get install time)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/hrgate" ./cmd/hrgate
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
/usr/bin/time -f "wall %e s, peak RSS %M KiB" "$work/hrgate" --data-dir "$work/data" --log-level warn \
  sandbox seed --companies 1 --employees "$N" 2>&1
ls -la "$work/data" | awk '/hrgate.db$/ {printf "database: %.1f MiB\n", $5/1048576}'
