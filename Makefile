# medisync: one command runs the system, one runs every test.
SHELL := /bin/bash
MODULES := shared discovery auth doctor patient gateway e2e
SERVICES := discovery auth doctor patient gateway

.PHONY: run test test-race bench build lint fmt mariadb smoke

## run: start every service on this machine (SQLite by default; MEDISYNC_DB=mysql for MariaDB)
run:
	@bash scripts/run.sh

## test: run every test of every module (MySQL tests run when MariaDB answers; required under CI=true)
test:
	@bash scripts/test.sh

## test-race: the same with the race detector
test-race:
	@GOFLAGS="$(GOFLAGS) -race" bash scripts/test.sh

## bench: the go test benchmarks of every module
bench:
	@for m in $(MODULES); do (cd $$m && go test -run '^$$' -bench . -benchmem ./...) || exit 1; done

## build: build every service binary into bin/
build:
	@mkdir -p bin
	@for s in $(SERVICES); do \
		if [ -d $$s/cmd/$$s ]; then (cd $$s && CGO_ENABLED=0 go build -o ../bin/$$s ./cmd/$$s) || exit 1; fi; \
	done
	@ls bin

## lint: gofmt and go vet on every module
lint:
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do (cd $$m && go vet ./...) || exit 1; done

fmt:
	@gofmt -w $(MODULES)

## mariadb: install (if needed), start and prepare the local MariaDB
mariadb:
	@bash scripts/mariadb-up.sh

## smoke: walk the main story through the gateway of a running system
smoke:
	@bash scripts/smoke.sh
