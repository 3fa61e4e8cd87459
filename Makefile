# truyvet — `make` lists the targets.
.DEFAULT_GOAL := help
GO ?= go
FUZZTIME ?= 20s

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

.PHONY: build
build: ## build the truyvet binary
	$(GO) build -o truyvet .

.PHONY: demo
demo: ## run the all-in-one demo with a synthetic city
	$(GO) run . demo

.PHONY: test
test: ## everything CI runs: vet, unit + integration + end-to-end tests with -race, short fuzzing
	./scripts/test.sh

.PHONY: test-unit
test-unit: ## unit tests only (no services needed)
	$(GO) test -race -short ./...

.PHONY: fuzz
fuzz: ## run every fuzzer for FUZZTIME each
	./scripts/fuzz.sh $(FUZZTIME)

.PHONY: bench
bench: ## Go benchmarks (see bench/README.md for the tier-S figures)
	$(GO) test -run '^$$' -bench . -benchmem ./...

.PHONY: lint
lint: ## gofmt, go vet, golangci-lint if installed
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	@lint=$$(command -v golangci-lint || echo $$($(GO) env GOPATH)/bin/golangci-lint); if [ -x "$$lint" ]; then $$lint run ./...; else echo "golangci-lint not installed (go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0); skipped"; fi

.PHONY: fmt
fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')
