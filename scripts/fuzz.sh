#!/usr/bin/env bash
# Runs every native Go fuzzer in the module for a while each.
#
# Go's fuzzing engine sometimes ends a timed run with "context deadline
# exceeded" when the time runs out while a worker is busy (on a loaded
# machine); no input failed and none is written. Such a run is retried once.
# A real failure writes its input under testdata/fuzz and fails again.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-20s}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
    for attempt in 1 2; do
      echo "== $pkg $f ($fuzztime)"
      if go test -run '^$' -fuzz "^$f\$" -fuzztime "$fuzztime" "$pkg" 2>&1 | tee "$out"; then
        break
      fi
      if [ "$attempt" = 1 ] && grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written' "$out"; then
        echo "== $f: the fuzzing engine ran out of time with a worker busy (no failing input); retrying once"
        continue
      fi
      exit 1
    done
  done
done
