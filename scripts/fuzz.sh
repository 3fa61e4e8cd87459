#!/usr/bin/env bash
# Runs every native Go fuzzer in the module for a while each.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-20s}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
    echo "== $pkg $f ($fuzztime)"
    go test -run '^$' -fuzz "^$f\$" -fuzztime "$fuzztime" "$pkg"
  done
done
