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
test: ## everything CI runs: lint, unit + integration + end-to-end tests with -race, short fuzzing
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
lint: ## gofmt, go vet, go mod tidy -diff, golangci-lint (the pinned version, installed if missing); fails on findings
	./scripts/lint.sh

.PHONY: fmt
fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')
