# printdesk — the entry points. See the README.
#   make run    install, build, seed demo data, serve on 127.0.0.1:8080
#   make test   install test tools, build normal + sanitizer, run all tests
#   make build  build/printdesk
#   make bench  the benchmarks in bench/

BUILD      ?= build
ASAN_BUILD ?= build-asan
LISTEN     ?= 127.0.0.1:8080
DEMO_ORDERS ?= 500

.PHONY: all build build-asan deps test-deps run test bench clean

all: build

deps:
	@tools/install-packages.sh tools/packages-build.txt

test-deps:
	@tools/install-packages.sh tools/packages-build.txt \
		tools/packages-test.txt
	@cd tests && npm ci --no-audit --no-fund --loglevel=error

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --buildtype=debug \
		-Db_sanitize=address,undefined -Db_lundef=false

build: deps $(BUILD)/build.ninja
	@ninja -C $(BUILD)

build-asan: deps $(ASAN_BUILD)/build.ninja
	@ninja -C $(ASAN_BUILD)

run: build
	@tools/run-local.sh $(BUILD)/printdesk $(LISTEN) $(DEMO_ORDERS)

test: test-deps build build-asan
	@tests/run.sh $(BUILD) $(ASAN_BUILD)

bench: test-deps build
	@cd bench && npm ci --no-audit --no-fund --loglevel=error
	@bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
