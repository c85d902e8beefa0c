# medisync: one command runs the system, one runs every test.
SHELL := /bin/bash
# The services come from services.txt (name, port, database; start order);
# the modules are the services plus the shared kit, the end-to-end tests and
# the deployment checks (deploy/).
SERVICES := $(shell awk 'NF && substr($$1, 1, 1) != "\043" {print $$1}' services.txt)
MODULES := shared $(SERVICES) e2e deploy
# The Go toolchain of every recipe and script: go.work's toolchain line,
# fetched by the go command from the module proxy (scripts/go.sh does the same).
export GOTOOLCHAIN ?= $(shell sed -n 's/^toolchain //p' go.work)

.PHONY: run test test-race bench fuzz build images lint vulncheck fmt mariadb postgres smoke check-services

## run: start every service on this machine (SQLite by default; MEDISYNC_DB=mysql for MariaDB, MEDISYNC_DB=postgres for PostgreSQL)
run:
	@bash scripts/run.sh

## test: run every test of every module (MySQL and PostgreSQL tests run when their servers answer; required under CI=true)
test:
	@bash scripts/test.sh

## test-race: the same with the race detector
test-race:
	@GOFLAGS="$(GOFLAGS) -race" bash scripts/test.sh

## bench: the go test benchmarks of every module
bench:
	@for m in $(MODULES); do (cd $$m && go test -run '^$$' -bench . -benchmem ./...) || exit 1; done

## fuzz: every fuzz target of every module for FUZZTIME each (default 30s; scripts/fuzz.sh)
fuzz:
	@bash scripts/fuzz.sh

## build: build every service binary and the shared commands (shared/cmd/*) into bin/
build:
	@mkdir -p bin
	@for s in $(SERVICES); do \
		if [ -d $$s/cmd/$$s ]; then (cd $$s && CGO_ENABLED=0 go build -o ../bin/$$s ./cmd/$$s) || exit 1; fi; \
	done
	@for c in shared/cmd/*/; do \
		c=$$(basename $$c); (cd shared && CGO_ENABLED=0 go build -o ../bin/$$c ./cmd/$$c) || exit 1; \
	done
	@ls bin

## images: build every service's container image with podman, FROM scratch (scripts/images.sh)
images:
	@bash scripts/images.sh

## lint: gofmt and go vet on every module
lint: check-services
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do (cd $$m && go vet ./...) || exit 1; done

## vulncheck: every module and the toolchain against the Go vulnerability database, offline (scripts/vulncheck.sh)
vulncheck:
	@bash scripts/vulncheck.sh

fmt:
	@gofmt -w $(MODULES)

## mariadb: install (if needed), start and prepare the local MariaDB
mariadb:
	@bash scripts/mariadb-up.sh

## postgres: install (if needed), start and prepare the local PostgreSQL
postgres:
	@bash scripts/postgres-up.sh

## smoke: walk the main story through the gateway of a running system
smoke:
	@bash scripts/smoke.sh

## check-services: the files that still name every service by hand agree with services.txt, and .gitignore ignores every command's binary
check-services:
	@fail=0; \
	miss() { echo "$$1: $$2"; fail=1; }; \
	while read -r name port db; do \
		case "$$name" in ""|\#*) continue;; esac; \
		[ -f "$$name/cmd/$$name/main.go" ] || miss "$$name" "no cmd/$$name/main.go"; \
		grep -q "^[[:space:]]*\./$$name$$" go.work || miss go.work "no ./$$name"; \
		grep -q "\"$$name:[0-9]*\"" docker/prometheus.yml || miss docker/prometheus.yml "no target $$name"; \
		grep -q "^  $$name:" docker/docker-compose.yml || miss docker/docker-compose.yml "no service $$name"; \
		grep -q "MEDISYNC_HTTP_ADDR: \":$$port\"" docker/docker-compose.yml || miss docker/docker-compose.yml "no listen address :$$port"; \
		grep -q "^COPY $$name/go.mod" docker/Dockerfile || miss docker/Dockerfile "no COPY $$name/go.mod"; \
		grep -q "^var services = .*\"$$name\"" e2e/harness_test.go || miss e2e/harness_test.go "$$name not in services"; \
		grep -q "localhost:$$port" README.md || miss README.md "no localhost:$$port in the service URLs"; \
		[ ! -d "$$name/$$name" ] || grep -qx "!/$$name/$$name/" .gitignore || miss .gitignore "no !/$$name/$$name/ for the package folder"; \
		if [ "$$db" != "-" ]; then \
			grep -q "/$$db?" docker/docker-compose.yml || miss docker/docker-compose.yml "no DSN for $$db"; \
			grep -q "DATABASE IF NOT EXISTS $$db " docker/mariadb-init.sql || miss docker/mariadb-init.sql "no $$db"; \
		fi; \
	done < services.txt; \
	for c in */cmd/*/; do \
		c=$${c%/}; bin=$${c%%/*}/$${c##*/}; \
		[ -d "$$bin" ] || git check-ignore -q --no-index "$$bin" || \
			miss .gitignore "no rule ignoring $$bin, the binary go build ./cmd/$${c##*/} leaves in $${c%%/*}"; \
	done; \
	want=$$(awk '!/^#/ && NF' services.txt | wc -l); \
	got=$$(grep -o '"[a-z0-9-]*:[0-9]*"' docker/prometheus.yml | wc -l); \
	[ "$$want" -eq "$$got" ] || { echo "docker/prometheus.yml: $$got targets for $$want services"; fail=1; }; \
	if [ $$fail -ne 0 ]; then echo "see docs/adding-a-service.md"; exit 1; fi; \
	echo "check-services: $$want services agree with services.txt"
