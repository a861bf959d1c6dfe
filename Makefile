# Thin wrapper over scripts/: the README's two commands are `make run` and `make test`.
.PHONY: run test build bench format clean stack-down help

help:
	@echo "make run     build and start everything (servers included); prints the Swagger UI address"
	@echo "make test    run every test against throwaway servers"
	@echo "make bench   load benchmark; writes docs/benchmarks.md"
	@echo "make build | format | clean | stack-down"

run:
	@scripts/run

test:
	@scripts/test

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
