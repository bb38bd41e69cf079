# test.mk — `make test-c`: libane's C tests and the bounded MIL fuzz run, under
# AddressSanitizer + UndefinedBehaviorSanitizer. Included by the top-level Makefile (uses
# its BUILD, CC, LIB_SRCS, LIB_HDRS, WARN, CDEFS).
#
# Each libane/test/test_*.c is a standalone program with main() that prints
# "N passed, M failed" and exits non-zero on failure. All of libane's sources are compiled
# once into sanitized objects and linked into every test, so a test can call internal
# functions as well as the public ABI. scripts/ci/run-c-tests.sh runs them from the repo
# root (tests may read fixtures by relative path), prints one summary line per program and
# fails if any program fails, including a sanitizer report (exit code != 0).
#
#   make test-c                       gcc (CC), fuzz for FUZZ_ITERS iterations
#   make test-c CC=clang-16           the same with clang
#   make test-c FUZZ_ITERS=1000       a quicker fuzz run
#
# Objects go to a folder per compiler, and build/test/compiler records the CC that linked the
# programs, so switching CC relinks them and never mixes gcc and clang objects.

TEST_DIR      := $(BUILD)/test
TEST_OBJ_DIR  := $(TEST_DIR)/obj-$(notdir $(CC))
TEST_SRC_DIR  := libane/test
TEST_SRCS     := $(wildcard $(TEST_SRC_DIR)/test_*.c)
FUZZ_SRC      := $(wildcard $(TEST_SRC_DIR)/fuzz_mil.c)
TEST_BINS     := $(patsubst $(TEST_SRC_DIR)/%.c,$(TEST_DIR)/%,$(TEST_SRCS) $(FUZZ_SRC))
# Fuzz iterations: the default makes the fuzz run take about a minute on the 2-core CI
# machine (measured with the corpus in libane/test/mil: 1e5 iterations took 5.1 s on an idle
# machine; 1e6 took 80 s inside a full CI run on a busy one).
FUZZ_ITERS    ?= 750000
SANITIZE      := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CFLAGS_TEST   := -std=c11 -g -O1 $(WARN) $(SANITIZE) -fno-math-errno -pthread $(CDEFS)
TEST_LIB_OBJS := $(patsubst %,$(TEST_OBJ_DIR)/%.o,$(LIB_SRCS))
TEST_CC_STAMP := $(TEST_DIR)/compiler

.PHONY: test-c test-c-build test-c-force

test-c-build: $(TEST_BINS)

$(TEST_OBJ_DIR)/%.c.o: %.c $(LIB_HDRS) $(wildcard libane/test/*.h libane/test/*/*.h) libane/test/test.mk
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_TEST) -c -o $@ $<

# The test programs are host tools, not libane: they may use POSIX (strdup, opendir), which
# strict -std=c11 hides in glibc's headers unless asked for.
$(TEST_OBJ_DIR)/$(TEST_SRC_DIR)/%.c.o: CFLAGS_TEST += -D_DEFAULT_SOURCE

# Rewritten only when CC changes, so its date says when the compiler last changed.
$(TEST_CC_STAMP): test-c-force
	@mkdir -p $(@D)
	@[ "$$(cat $@ 2>/dev/null)" = "$(CC)" ] || echo "$(CC)" > $@

$(TEST_BINS): $(TEST_DIR)/%: $(TEST_OBJ_DIR)/$(TEST_SRC_DIR)/%.c.o $(TEST_LIB_OBJS) $(TEST_CC_STAMP)
	$(CC) $(CFLAGS_TEST) -o $@ $(filter %.o,$^) -lm -ldl

test-c: $(TEST_BINS)
	@FUZZ_ITERS=$(FUZZ_ITERS) bash scripts/ci/run-c-tests.sh $(TEST_BINS)
