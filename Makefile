# Kiln — build, test, benchmark.
#   make              build build/kiln and build/toml-decoder
#   make test         install missing deps and tools, build, run every test (unit, e2e, suites)
#   make tools        install the component toolchain (scripts/install-tools.sh)
#   make test SANITIZE=1   the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make spec-full    the spec suite on both tiers, every file
#   make bench        benchmarks (not part of make test); writes bench/results.md
#   make test-full    the slow end-to-end tests of tests/e2e-full (not part of make test)
#   make fuzz         build the libFuzzer targets (clang)
#   make format       clang-format every source file
#
# Sources are discovered: every src/**/*.c is part of the kiln library, except
#   src/cli/main.c            -> build/kiln
#   src/tools/NAME.c          -> build/NAME (underscores become dashes)
#   src/**/NAME_test.c        -> build/tests/NAME_test (C unit tests, run by make test)
# Several people can build at once with separate trees: make BUILD=build-mine

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build
SANFLAGS :=
endif

CC ?= cc
OPT ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wvla
CPPFLAGS += -D_GNU_SOURCE -Isrc -Isdk -MMD -MP \
  -DKILN_TCC_VERSION=\"$(shell dpkg-query -W -f='$${Version}' libtcc-dev 2>/dev/null)\" \
  -DKILN_WABT_VERSION=\"$(shell dpkg-query -W -f='$${Version}' wabt 2>/dev/null)\"
# libpq's headers live in their own directory (Debian: /usr/include/postgresql)
CPPFLAGS += $(shell pkg-config --cflags-only-I libpq 2>/dev/null || echo -I/usr/include/postgresql)
CFLAGS += -std=c11 $(OPT) $(WARN) $(SANFLAGS) -pthread
LDFLAGS += $(SANFLAGS) -pthread -rdynamic
LDLIBS += -lh2o-evloop -lssl -lcrypto -lz -lsqlite3 -lhiredis -lpq -ltcc -ldl -lm -lcurl

ALL_SRC := $(shell find src -name '*.c' | sort)
TEST_SRC := $(filter %_test.c,$(ALL_SRC))
TOOL_SRC := $(filter src/tools/%,$(ALL_SRC))
MAIN_SRC := src/cli/main.c
LIB_SRC := $(filter-out $(TEST_SRC) $(TOOL_SRC) $(MAIN_SRC),$(ALL_SRC))

# The templates of `kiln new` (templates/, sdk/) become C at build time.
TEMPLATE_FILES := $(shell find templates sdk -not -path '*/node_modules/*' \
  -not -path '*/__pycache__/*' -not -path '*/target/*' 2>/dev/null | sort)
GEN_TEMPLATES := $(BUILD)/gen/templates_data.c

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/templates_data.o
TESTS := $(patsubst src/%.c,$(BUILD)/tests/%,$(TEST_SRC))
TOOLS := $(patsubst src/tools/%.c,$(BUILD)/%,$(TOOL_SRC))
TOOLS := $(subst _,-,$(TOOLS))

.PHONY: all deps tools test unit e2e suites spec-full bench fuzz format clean test-full
all: deps $(BUILD)/kiln $(TOOLS)

# Installs missing Debian packages (a no-op when everything is there).
deps:
	@scripts/install-deps.sh --check >/dev/null 2>&1 || scripts/install-deps.sh

# Installs the WebAssembly component toolchain (wasm-tools, wit-bindgen, jco, componentize-py)
# into $(KILN_TOOLS) or /var/cache/kiln-tools, outside the clone; the tests' component corpus
# needs it. Not part of `make`: on a fresh machine its cargo builds take minutes.
tools: deps
	@scripts/install-tools.sh --check >/dev/null 2>&1 || scripts/install-tools.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(GEN_TEMPLATES): scripts/embed-templates.sh $(TEMPLATE_FILES)
	scripts/embed-templates.sh $@

$(BUILD)/obj/gen/templates_data.o: $(GEN_TEMPLATES)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/kiln: $(BUILD)/obj/src/cli/main.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/toml-decoder: $(BUILD)/obj/src/tools/toml_decoder.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/spec-runner: $(BUILD)/obj/src/tools/spec_runner.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/component-spec-runner: $(BUILD)/obj/src/tools/component_spec_runner.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/src/%.o $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

unit: all $(TESTS)
	@tests/run-unit.sh $(BUILD)

e2e: all tools
	@tests/run-e2e.sh $(BUILD)

test: all tools $(TESTS)
	@KILN_BUILD=$(BUILD) tests/run-all.sh

spec-full: all
	@KILN_BUILD=$(BUILD) KILN_SPEC_FULL=1 tests/suites/spec.sh

test-full: all tools
	@rc=0; for t in tests/e2e-full/*.sh; do KILN_BUILD=$(BUILD) bash $$t || rc=1; done; exit $$rc

bench: all
	@KILN_BUILD=$(BUILD) bench/run.sh

fuzz:
	@$(MAKE) -f tests/fuzz/fuzz.mk BUILD=$(BUILD)

format:
	clang-format -i $$(find src tests sdk examples -name '*.[ch]' 2>/dev/null)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# The README's first command: install, build, and serve the bundled example app.
.PHONY: serve
serve: all
	$(BUILD)/kiln up -f examples/hello --build

$(BUILD)/instantiate-bench: $(BUILD)/obj/src/tools/instantiate_bench.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/component-bench: $(BUILD)/obj/src/tools/component_bench.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# Installs the kiln binary (PREFIX=/usr/local by default).
PREFIX ?= /usr/local
.PHONY: install
install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BUILD)/kiln $(DESTDIR)$(PREFIX)/bin/kiln
