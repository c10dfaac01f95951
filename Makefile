# The two commands a person needs: `make run` and `make test`.
# Everything else here is what they are made of.

BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
JOBS       ?= $(shell nproc)
LISTEN     ?= 0.0.0.0:8080
DATA_DIR   ?= ./data

.PHONY: all bootstrap build build-asan build-fuzz run test test-unit test-asan test-fuzz format clean bench bench-quick

all: build

bootstrap:
	@scripts/bootstrap

$(BUILD)/build.ninja $(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: bootstrap $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

build-asan: bootstrap
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DTANDEM_SANITIZE=ON >/dev/null
	cmake --build $(BUILD_ASAN) -j $(JOBS)

build-fuzz: bootstrap
	CC=clang cmake -S . -B $(BUILD_FUZZ) -DTANDEM_FUZZ=ON >/dev/null
	cmake --build $(BUILD_FUZZ) -j $(JOBS)

run: build
	mkdir -p $(DATA_DIR)
	$(BUILD)/tandem serve --listen $(LISTEN) --data-dir $(DATA_DIR)

# Every test: the suite in a normal build (on SQLite, on PostgreSQL and on
# the scale-out cluster), the suite again under AddressSanitizer + UBSan
# (on SQLite and PostgreSQL; the cluster copies, three sanitized instances
# each, would double the time, and the suites made for several instances,
# cluster_faults, chat_instances, doc_instances and scale_redis, do run
# sanitized), then each fuzzer for a bounded time.
test: build build-asan build-fuzz
	cd $(BUILD) && ctest --output-on-failure
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -LE cluster
	cd $(BUILD_FUZZ) && ctest --output-on-failure
	$(MAKE) bench-quick

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

# Every workload against tandem and the servers it is compared with, one
# after the other, pinned to separate CPUs, repeated, medians and ratios
# into bench/results/<date>.md and .json (docs/performance.md explains).
bench: build
	node bench/run.mjs --build $(BUILD)

# The same harness with small N and one repeat (about a minute): checks that
# every server produces figures; asserts nothing about speed.
bench-quick: build
	node bench/run.mjs --quick --build $(BUILD)

format:
	clang-format -i $$(git ls-files 'src/*.[ch]' 'tests/*.[ch]' 'bench/*.[ch]')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
