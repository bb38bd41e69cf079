# rustane — build libane (C) and the rustane executable (Bun).
#   make            libane for this machine + ./rustane (libane embedded)
#   make test       the bun test suite (CI's wrapper prints "N passed, N failed")
#   make test-c     libane's C tests under AddressSanitizer/UBSan, and the bounded MIL fuzz run
#   make dist       also the darwin-arm64 libane.dylib and executable, in dist/
#   make check      tsc --noEmit
#   make corpus     the built-in training corpus (build/corpus/brown.txt)
#   make bench-matmul  the cpu backend's dynamic-weight matmul vs OpenBLAS (BENCHMARKS.md)

BUN      ?= node_modules/.bin/bun
CC       ?= cc
BUILD    := build
HOST     := $(BUILD)/host
LIB_SRCS := $(wildcard libane/src/core/*.c libane/src/mil/*.c libane/src/cpu/*.c libane/src/host/*.c libane/src/ane/*.c)
LIB_HDRS := $(wildcard libane/include/*.h libane/src/*/*.h)
WARN     := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS_LIB := -std=c11 -O3 -fPIC -fvisibility=hidden -fno-math-errno -pthread $(WARN)
VERSION  := $(shell node -p "require('./package.json').version" 2>/dev/null || echo 0.0.0)
CDEFS    := -DANE_VERSION_STRING=\"$(VERSION)\"

TS_SRCS  := $(shell find src probes -name '*.ts' 2>/dev/null)

.PHONY: all lib corpus test test-c check dist clean bench-matmul
all: rustane

# The corpus built into the executable (the default `rustane train`): the Brown corpus as text.
CORPUS := $(BUILD)/corpus/brown.txt
corpus: $(CORPUS)
$(CORPUS): scripts/corpus.ts
	$(BUN) scripts/corpus.ts --out $@

lib: $(HOST)/libane.so

$(HOST)/libane.so: $(LIB_SRCS) $(LIB_HDRS) Makefile
	@mkdir -p $(HOST)
	$(CC) $(CFLAGS_LIB) $(CDEFS) -shared -o $@ $(LIB_SRCS) -lm -ldl

rustane: $(HOST)/libane.so $(CORPUS) $(TS_SRCS) package.json
	$(BUN) scripts/build.ts --target host --lib $(HOST)/libane.so --out $@

test: $(HOST)/libane.so $(CORPUS)
	bash scripts/bun-test.sh

check:
	node_modules/.bin/tsc --noEmit -p .

# The cpu backend's dynamic-weight matmul program vs OpenBLAS sgemm on the same shape
# (needs libopenblas-dev; BENCHMARKS.md). OPENBLAS_CORETYPE picks OpenBLAS's best kernel for
# this CPU where Debian's build does not detect it.
bench-matmul: $(LIB_SRCS) bench/matmul/bench_matmul.c
	@mkdir -p $(BUILD)
	$(CC) -std=c11 -O3 -D_DEFAULT_SOURCE -fno-math-errno -pthread -I/usr/include/x86_64-linux-gnu/openblas-pthread \
	  bench/matmul/bench_matmul.c $(LIB_SRCS) -o $(BUILD)/bench_matmul -lopenblas -lm -ldl
	$(BUILD)/bench_matmul $(or $(BENCH_ROUNDS),200)

clean:
	rm -rf $(BUILD) dist rustane

include libane/test/test.mk
include libane/darwin/darwin.mk
