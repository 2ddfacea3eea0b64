# Portcullis — see README.md. Every target needs only Go; `make run` and
# `make test` need nothing else on the machine.
GO        ?= go
BIN       ?= bin/portcullis
PKGS      := ./...
# Packages of the core that must not import frameworks, drivers or Wire.
CORE      := ./domain/... ./application/...
FORBIDDEN := github.com/gofiber|github.com/valyala|go.mongodb.org|github.com/redis|github.com/google/wire|github.com/alicebob|github.com/FerretDB|/adapters/|/cmd/|/config

.PHONY: run build test test-race test-integration test-redis-cluster screenshots soak generate check-generate lint bench

## run: start the server on its embedded defaults (dev mode, data in ./var)
run:
	PORTCULLIS_DEV_MODE=true $(GO) run ./cmd/portcullis serve

## build: compile the server binary into bin/
build:
	$(GO) build -o $(BIN) ./cmd/portcullis

## test: unit, adapter and end-to-end tests on embedded MongoDB/Redis
test:
	$(GO) test -count=1 $(PKGS)

## test-race: the core and the adapters under the race detector (needs cgo)
test-race:
	CGO_ENABLED=1 $(GO) test -race -count=1 ./domain/... ./application/... ./adapters/...

## test-redis-cluster: the Redis adapters' tests (every Lua script and
## pipeline) against the Redis Cluster REDIS_CLUSTER_URL names
## (redis+cluster://host:port,host:port,...)
test-redis-cluster:
	@test -n "$$REDIS_CLUSTER_URL" || { echo "test-redis-cluster: set REDIS_CLUSTER_URL"; exit 2; }
	REDIS_URL="$$REDIS_CLUSTER_URL" $(GO) test -count=1 ./adapters/redis/...

## test-integration: adapter and end-to-end tests against real servers;
## needs REDIS_URL and MONGODB_URI (or FERRETDB_POSTGRESQL_URL)
test-integration:
	@test -n "$$REDIS_URL" || { echo "test-integration: set REDIS_URL"; exit 2; }
	@test -n "$$MONGODB_URI$$FERRETDB_POSTGRESQL_URL" || { echo "test-integration: set MONGODB_URI or FERRETDB_POSTGRESQL_URL"; exit 2; }
	$(GO) test -count=1 ./adapters/... ./test/...

## screenshots: the hosted pages' browser tests, writing screenshots of each
## page at 1280 and 360 px into screenshots/ (needs Chromium)
screenshots:
	PORTCULLIS_SCREENSHOTS=$(CURDIR)/screenshots $(GO) test ./test/ -run 'Browser|Pages' -count=1

## generate: regenerate Wire code
generate:
	$(GO) tool wire ./cmd/portcullis

## check-generate: fail when wire_gen.go is stale
check-generate:
	@$(GO) tool wire diff ./cmd/portcullis >/dev/null 2>&1 || { echo "wire_gen.go is stale: run make generate"; $(GO) tool wire diff ./cmd/portcullis; exit 1; }

## lint: gofmt, go vet, and the dependency rule of the hexagon
lint:
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@bad=$$($(GO) list -deps -test -f '{{if not .Standard}}{{.ImportPath}}{{end}}' $(CORE) | grep -v '^github.com/portcullis/portcullis/\(domain\|application\)' | grep -E '$(FORBIDDEN)' || true); \
		if [ -n "$$bad" ]; then echo "domain/ and application/ must not depend on:"; echo "$$bad"; exit 1; fi
	@echo "lint: ok"

## soak: a built server under mixed traffic over every login method for
## 10 minutes (SOAK_FLAGS adds flags, e.g. -duration 2m): errors, p99 and
## RSS by interval, and their drift; figures in bin/soak.json. The stores
## run in a portcullis-devdb process beside the server (its RSS its own).
soak:
	$(GO) build -o $(BIN) ./cmd/portcullis
	$(GO) build -o bin/portcullis-soak ./cmd/portcullis-soak
	$(GO) build -o bin/portcullis-devdb ./cmd/portcullis-devdb
	./bin/portcullis-soak -server $(BIN) -json bin/soak.json $(SOAK_FLAGS)

## bench: the load harness (cmd/portcullis-load) against a freshly built server:
## a table on stdout, the figures in bin/bench.json (about 3 minutes, 1½ or
## more for the storefront phase and 5 or more for the multitenant phase, on 2
## cores); BENCH_FLAGS adds flags (e.g. -duration 5s, -phases storefront).
## The micro-benchmarks of the
## go test suites are not part of it: go test -run '^$' -bench . ./...
bench:
	$(GO) build -o $(BIN) ./cmd/portcullis
	$(GO) build -o bin/portcullis-load ./cmd/portcullis-load
	$(GO) build -o bin/portcullis-devdb ./cmd/portcullis-devdb
	./bin/portcullis-load -server $(BIN) -json bin/bench.json $(BENCH_FLAGS)
