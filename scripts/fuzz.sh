#!/usr/bin/env bash
# Runs every Go fuzz target of the module for FUZZTIME each and prints, per target,
# the executions run and whether it found a failing input.
#
#   FUZZTIME=60s scripts/fuzz.sh
#
# FUZZMINIMIZETIME (default 5s) bounds the time spent shrinking each input that finds
# new coverage. Go's default of 60s can use a whole short run on one input when each
# execution is slow, and those executions are not counted in the totals.
#
# The targets are the FuzzXxx functions that `go test -list` finds, so targets added
# later are run without a change here. A failing input is saved by go test under
# PACKAGE/testdata/fuzz/FuzzXxx/, where it becomes part of the seed corpus once
# committed. The script exits 1 when any target failed.
set -euo pipefail
cd "$(dirname "$0")/.."
go=${GO:-go}
fuzztime=${FUZZTIME:-60s}
minimizetime=${FUZZMINIMIZETIME:-5s}

# go test -list prints a package's matching names, then "ok  PACKAGE  TIME".
targets=$("$go" test -list '^Fuzz' ./... | awk '
	/^Fuzz/ { names[n++] = $1 }
	/^ok / { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }')
if [ -z "$targets" ]; then
	echo "fuzz: no FuzzXxx targets found" >&2
	exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
summary=()
failed=0
while read -r pkg target; do
	echo "fuzz: $pkg $target for $fuzztime"
	status=ok
	if ! "$go" test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimizetime" "$pkg" 2>&1 | tee "$log"; then
		status=FAILED
		failed=1
	fi
	# The last progress line carries the total, for example
	# "fuzz: elapsed: 1m0s, execs: 1234567 (20576/sec), new interesting: 3 (total: 40)".
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -n 1 | awk '{print $2}')
	summary+=("$pkg $target execs=${execs:-unknown} result=$status")
done <<<"$targets"

echo
echo "fuzz summary (FUZZTIME=$fuzztime, FUZZMINIMIZETIME=$minimizetime, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs):"
printf '  %s\n' "${summary[@]}"
exit "$failed"
