# sangja: build, demo and test entry points. `make help` lists them.
# The scripts behind the longer targets live in scripts/.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build
.NOTPARALLEL:
MAKEFLAGS += --no-print-directory

CARGO ?= cargo
# The static release binary; every other target and the integration tests use this path.
BIN := target/sangja
DEMO := target/demo
DEMO_STATE := target/demo-state
DEMO_ID := sangja-demo
LOG_DIR := target/test-logs
# Extra arguments for the integration tests' cargo test, e.g. INTEGRATION_ARGS='-- --test-threads=1'.
INTEGRATION_ARGS ?=

# The steps of `make test`, in order. Each one runs even when an earlier one failed; the summary
# line comes last and the exit status is non-zero if any step failed.
# The cgroup v2 stage under User-Mode Linux goes here, after `integration`, as its own target
# that tees its cargo test output to $(LOG_DIR)/<name>.log with $(call logged,...).
TEST_STEPS := deps lint unit integration uml clients

# $(call logged,NAME,COMMAND): run COMMAND, teeing its output to $(LOG_DIR)/NAME.log and its exit
# status to $(LOG_DIR)/NAME.rc (read by scripts/summarize-tests.sh), and exit with that status.
logged = set +e; mkdir -p $(LOG_DIR); $(2) 2>&1 | tee $(LOG_DIR)/$(1).log; \
	rc=$${PIPESTATUS[0]}; echo $$rc >$(LOG_DIR)/$(1).rc; exit $$rc

# Print a loud note when not root: tests that need root skip or fail, and say why themselves.
warn_not_root = if [ "$$(id -u)" -ne 0 ]; then \
	echo "$(1): NOT ROOT: tests that need root will skip or fail; run as root for the full suite" >&2; fi

.PHONY: help build deps demo-bundle run need-root lint unit integration test clean bench uml
.PHONY: test-clients clients

help:
	@echo "make build        static release binary at $(BIN) (musl if available, else glibc crt-static)"
	@echo "make run          deps + build + demo-bundle, then run the demo container (root)"
	@echo "make test         deps, lint, unit, integration, uml, clients; one summary line; non-zero on any failure"
	@echo "make deps         apt-get the missing test/demo packages (root, only when missing)"
	@echo "make demo-bundle  busybox bundle at $(DEMO)"
	@echo "make lint         rustfmt check, clippy -D warnings, layer check (scripts/check-layers.sh)"
	@echo "make unit         cargo test -p sangja"
	@echo "make integration  build, then cargo test -p sangja-integration against $(BIN) (root)"
	@echo "make uml          build, then the cgroup v2 tests (cgroups_* + library v2 kernel tests) natively"
	@echo "                  if this host has cgroup v2 controllers, else inside User-Mode Linux (root)"
	@echo "make clean        cargo clean and remove the demo, its state and test logs"
	@echo "make test-clients build, then containerd, podman and Docker driving sangja and runc, on the host"
	@echo "                  and (limits) in UML; summary line per client (root; integration/clients/)"
	@echo "make bench        build, then sangja vs runc, crun, youki on the host and in UML (root):"
	@echo "                  target/bench/report.md and chart.svg (bench/README.md)"

build:
	@CARGO='$(CARGO)' bash scripts/build-static.sh

# Built only when missing; `make run` and `make integration` always go through `build`.
$(BIN):
	@$(MAKE) build

deps:
	@bash scripts/install-deps.sh

demo-bundle: | $(BIN)
	bash scripts/make-rootfs.sh $(DEMO)/rootfs
	install -m 644 scripts/demo.sh $(DEMO)/rootfs/demo.sh
	rm -f $(DEMO)/config.json
	$(BIN) spec -b $(DEMO)
	python3 scripts/json-set.py $(DEMO)/config.json \
		'process.terminal=false' \
		'process.args=["/bin/sh", "/demo.sh"]' \
		'hostname="$(DEMO_ID)"'
	@echo "demo-bundle: $(DEMO) ready"

need-root:
	@if [ "$$(id -u)" -ne 0 ]; then \
		echo "make $(or $(MAKECMDGOALS),run): must run as root (a container needs namespaces and mounts): sudo make $(MAKECMDGOALS)" >&2; \
		exit 1; \
	fi

run: need-root deps build demo-bundle
	@$(BIN) --root $(abspath $(DEMO_STATE)) delete -f $(DEMO_ID) >/dev/null 2>&1 || true
	$(BIN) --root $(abspath $(DEMO_STATE)) run -b $(abspath $(DEMO)) $(DEMO_ID)

# All three checks run; the target fails if any did.
lint:
	@rc=0; \
	echo "lint: cargo fmt --all -- --check"; $(CARGO) fmt --all -- --check || rc=1; \
	echo "lint: cargo clippy --workspace --all-targets -- -D warnings"; \
	$(CARGO) clippy --workspace --all-targets -- -D warnings || rc=1; \
	bash scripts/check-layers.sh src || rc=1; \
	exit $$rc

unit:
	@$(call warn_not_root,unit)
	@$(call logged,unit,$(CARGO) test -p sangja --no-fail-fast)

# The bench appends one line per self-skipped test to SANGJA_ITEST_SKIP_LOG; the summary counts them.
integration: build
	@$(call warn_not_root,integration)
	@rm -f $(LOG_DIR)/integration.skips
	@$(call logged,integration,SANGJA_RUNTIME=$(abspath $(BIN)) \
		SANGJA_ITEST_SKIP_LOG=$(abspath $(LOG_DIR))/integration.skips \
		$(CARGO) test -p sangja-integration --no-fail-fast $(INTEGRATION_ARGS))

# The cgroup v2 stage: integration/uml/integration-tests.sh builds the cgroups_* integration
# tests and the library tests on the host, then runs them natively when this host's cgroup2
# has the cpu, memory and pids controllers, else inside User-Mode Linux (installed if missing).
uml: build
	@$(call warn_not_root,uml)
	@rm -f $(LOG_DIR)/uml.skips
	@$(call logged,uml,SANGJA_RUNTIME=$(abspath $(BIN)) \
		SANGJA_ITEST_SKIP_LOG=$(abspath $(LOG_DIR))/uml.skips \
		CARGO='$(CARGO)' bash integration/uml/integration-tests.sh)

test:
	rm -rf $(LOG_DIR) && mkdir -p $(LOG_DIR)
	@failed=""; \
	for step in $(TEST_STEPS); do \
		echo "==> make $$step"; start=$$SECONDS; \
		$(MAKE) $$step || failed="$$failed $$step"; \
		echo "==> make $$step: $$((SECONDS - start))s"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test: FAILED steps:$$failed"; fi; \
	bash scripts/summarize-tests.sh $(LOG_DIR) || true; \
	[ -z "$$failed" ]

clean:
	@if [ -x $(BIN) ] && [ -d $(DEMO_STATE) ]; then \
		$(BIN) --root $(abspath $(DEMO_STATE)) delete -f $(DEMO_ID) >/dev/null 2>&1 || true; fi
	$(CARGO) clean
	rm -rf $(BIN) $(DEMO) $(DEMO_STATE) $(LOG_DIR)

# The harness lives in bench/ (its own workspace, built into target/bench-build); youki is
# built once into target/bench-tools. See bench/README.md.
bench: need-root build
	@bash bench/bench.sh

# containerd, podman and Docker with sangja (and runc, to check the tests) as their runtime;
# private daemons and dirs; the limit tests in UML. See integration/clients/README.md.
test-clients: build
	@$(call warn_not_root,test-clients)
	@$(call logged,test-clients,SANGJA=$(abspath $(BIN)) bash integration/clients/run.sh)

# The step of `make test`: the clients with sangja only (the runc runs check the tests
# themselves; `make test-clients` does both).
clients: build
	@$(call warn_not_root,clients)
	@$(call logged,clients,SANGJA=$(abspath $(BIN)) bash integration/clients/run.sh --runtimes sangja)
