#!/usr/bin/env bash
# The project's static checks (make lint; scripts/test.sh runs them first):
# gofmt, go vet, go.mod/go.sum tidy, and golangci-lint at the pinned version
# (.golangci.yml), installed when missing or at another version. Any finding
# fails.
set -euo pipefail
cd "$(dirname "$0")/.."
GOLANGCI_LINT_VERSION=2.15.0

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted"; exit 1; fi

echo "== go vet"
go vet ./...

echo "== go mod tidy -diff"
if ! go mod tidy -diff; then echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; fi

echo "== golangci-lint v$GOLANGCI_LINT_VERSION"
bindir=$(go env GOBIN)
bindir=${bindir:-$(go env GOPATH)/bin}
lint=$bindir/golangci-lint
if [ "$("$lint" version --short 2>/dev/null || true)" != "$GOLANGCI_LINT_VERSION" ]; then
  echo "installing golangci-lint v$GOLANGCI_LINT_VERSION into $bindir"
  go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v$GOLANGCI_LINT_VERSION"
fi
# Serialized with other runs on the machine rather than failing on its lock.
"$lint" run --allow-serial-runners ./...
