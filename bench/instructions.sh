#!/usr/bin/env bash
# Read-path cost of field decryption in instructions, not seconds: the
# machine may be shared, and a count of executed instructions does not
# depend on what else runs. For each of six cases (a single employee read
# by the payroll consumer and by one granted every group, and a page of
# 100 employees, each with and without field encryption) it runs the Go
# benchmark under valgrind's callgrind twice, at LO and HI iterations, and
# divides the difference of the two totals by HI-LO: the set-up (the
# sandbox import, the key creation) cancels out. It prints instructions
# per operation and the ratio plaintext / encrypted, the read-path target
# being a ratio of at least 0.9.
#
#   bench/instructions.sh [CASE-FILTER]
#
# CASE-FILTER is a regular expression on the case names ("Read", "List",
# "payroll"); all six run without one. LO and HI set the iterations of the
# single reads (default 100 and 5100), LIST_LO and LIST_HI those of the
# page (10 and 210). BENCH_TEST names a test binary of ./bench built
# before (go test -c), to measure another commit; without it the working
# tree is built.
#
# The garbage collector is off unless GOGC says otherwise: the few
# collection cycles of a run fall differently from one run to the next
# and moved single-read figures by up to 15% here, against a few tenths
# of a percent without them. Allocation is still counted (mallocgc); what
# collection would cost is in proportion to the bytes allocated, which
# the Go benchmarks report (-benchmem).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null; then
  echo "instructions.sh: skipped: valgrind is not installed (apt-get install valgrind); it counts the instructions this script reports" >&2
  exit 0
fi
FILTER=${1:-.}
LO=${LO:-100} HI=${HI:-5100} LIST_LO=${LIST_LO:-10} LIST_HI=${LIST_HI:-210}
export GOGC=${GOGC:-off}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "${BENCH_TEST:-}" ]; then
  cp "$BENCH_TEST" "$work/bench.test"
else
  go test -c -o "$work/bench.test" ./bench
fi

# count BENCH N prints the instructions of a whole run of BENCH at N
# iterations. Go's asynchronous preemption signals crash callgrind, hence
# GODEBUG; -test.cpu 1 keeps one scheduler thread.
count() {
  GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
    "$work/bench.test" -test.run '^$' -test.bench "^$1\$" -test.benchtime "$2x" -test.cpu 1 2>&1 |
    sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}

# perop BENCH LO HI prints the instructions per iteration of BENCH.
perop() {
  local lo hi
  lo=$(count "$1" "$2")
  hi=$(count "$1" "$3")
  [ -n "$lo" ] && [ -n "$hi" ] || { echo "instructions.sh: callgrind reported no count for $1" >&2; exit 1; }
  echo $(((hi - lo) / ($3 - $2)))
}

printf '%-24s %14s %14s %8s\n' case plaintext encrypted ratio
for c in "read/payroll BenchmarkEmployeeRead/%s/payroll $LO $HI" \
         "read/all BenchmarkEmployeeRead/%s/all $LO $HI" \
         "list-100/all BenchmarkEmployeeList/%s $LIST_LO $LIST_HI"; do
  set -- $c
  [[ $1 =~ $FILTER ]] || continue
  # shellcheck disable=SC2059 # the case's benchmark name is the format
  plain=$(perop "$(printf "$2" plaintext)" "$3" "$4")
  # shellcheck disable=SC2059
  enc=$(perop "$(printf "$2" encrypted)" "$3" "$4")
  printf '%-24s %14d %14d %8s\n' "$1" "$plain" "$enc" "$(awk -v p="$plain" -v e="$enc" 'BEGIN { printf "%.3f", p/e }')"
done
echo "instructions per operation (callgrind, GOGC=$GOGC), ratio = plaintext / encrypted; target >= 0.9"
