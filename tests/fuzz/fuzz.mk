# fuzz.mk — builds every tests/fuzz/fuzz_NAME.c into BUILD/fuzz/fuzz_NAME, a libFuzzer
# binary with AddressSanitizer and UndefinedBehaviorSanitizer.
#   make -f tests/fuzz/fuzz.mk BUILD=build-fuzz
# (libh2o-evloop: picohttpparser for fuzz_http1.)
# Each target names the Kiln sources it needs on one or more lines of its own (keep them
# under 100 columns so clang-format leaves them alone):
#   // fuzz-sources: src/manifest/toml.c src/util/alloc.c src/util/buf.c
BUILD ?= build
FUZZ_CC ?= clang
FUZZ_CFLAGS ?= -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE -Isrc -Isdk
FUZZ_LDLIBS ?= -lm -pthread -lh2o-evloop -lssl -lcrypto -lz

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
HEADERS := $(shell find src -name '*.h')

# The sources listed on the "// fuzz-sources:" lines of file $(1).
fuzz_sources = $(shell sed -n 's|^// fuzz-sources:||p' $(1))

.PHONY: all
all: $(FUZZ_BIN)

.SECONDEXPANSION:
$(BUILD)/fuzz/%: tests/fuzz/%.c $$(call fuzz_sources,tests/fuzz/$$*.c) $(HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(call fuzz_sources,$<) -o $@ $(FUZZ_LDLIBS)
