# Thin wrapper over scripts/: the README's two commands are `make run` and `make test`.
.PHONY: run test check test-sanitize build bench format clean stack-down help

help:
	@echo "make run     build and start everything (servers included); prints the Swagger UI address"
	@echo "make test    run every test against throwaway servers"
	@echo "make check   the quick loop: unit tests and the functional suite (no long, sanitizer, fuzz, ha or container suites)"
	@echo "make test-sanitize   only the ASan/UBSan suite (part of make test)"
	@echo "make test-ha   failover drills on local RabbitMQ/PostgreSQL/Redis clusters (part of make test)"
	@echo "make test-containers   build deploy/Dockerfile, run deploy/compose.yaml with podman, check it (part of make test)"
	@echo "make bench   load benchmark; writes docs/benchmarks.md"
	@echo "make build | format | clean | stack-down"

run:
	@scripts/run

test:
	@scripts/test

check:
	@TEST_LONG=0 TEST_HA=0 TEST_SANITIZE=0 TEST_FUZZ=0 TEST_CONTAINERS=0 scripts/test

test-sanitize:
	@scripts/test --sanitize

.PHONY: test-ha
test-ha:
	@scripts/test --ha

.PHONY: test-containers
test-containers:
	@scripts/test-containers

build:
	@scripts/setup
	@scripts/build

bench:
	@bench/run

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp')

stack-down:
	@scripts/devstack down

clean:
	rm -rf build build-*

# libFuzzer harnesses (fuzz/): FUZZ_ARGS e.g. "--time 60 order jwt" (scripts/fuzz --help).
.PHONY: fuzz
fuzz:
	@scripts/fuzz $(FUZZ_ARGS)
