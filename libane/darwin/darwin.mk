# darwin.mk — `make dist`: libane for macOS arm64, cross-compiled on Linux, and the two
# rustane executables. Included by the top-level Makefile (uses its BUILD, HOST, BUN,
# LIB_SRCS, LIB_HDRS, WARN, CDEFS, TS_SRCS).
#
#   dist/libane.dylib            Mach-O arm64 dylib, install name @rpath/libane.dylib
#   dist/rustane-darwin-arm64    the executable for Apple Silicon, libane.dylib embedded
#   dist/rustane-linux-x64       the executable for this machine, libane.so embedded
#
# There is no macOS SDK here (reference/bun-notes.md §4): Debian's clang-16 compiles for
# arm64-apple-macos11 and ld64.lld-16 links against the hand-written .tbd stubs in this
# folder. -nostdlib keeps the driver from asking for -lSystem (which does not exist here);
# -nostdlibinc keeps Linux's /usr/include out, so a stray <stdio.h> fails here instead of
# silently compiling against glibc's ABI (libane's sources use core/platform.h instead).
# -dead_strip_dylibs drops every stub the code does not reference, so the dylib loads only
# the libraries it uses. lld ad-hoc signs arm64 output, which Apple Silicon requires.
#
# Every link is followed by check-dylib.sh: the exports must be exactly ane.h's ANE_API
# functions and every import must come from an allowed system library. The linux .so goes
# through the same export check before it is embedded.

DARWIN        := $(BUILD)/darwin
DARWIN_CC     ?= clang-16
DARWIN_LD     ?= ld64.lld-16
DARWIN_TARGET := arm64-apple-macos11
# The ane backend's C sources are in LIB_SRCS (they build everywhere, for its Linux test);
# its Objective-C exception guard (*.m) builds only here.
DARWIN_SRCS   := $(LIB_SRCS) $(wildcard libane/src/ane/*.m)
DARWIN_OBJS   := $(patsubst %,$(DARWIN)/obj/%.o,$(DARWIN_SRCS))
DARWIN_STUBS  := $(wildcard libane/darwin/*.tbd)
DARWIN_CFLAGS := -target $(DARWIN_TARGET) -mcpu=apple-m1 -std=c11 -O3 -fvisibility=hidden \
                 -fno-math-errno -pthread -nostdlibinc $(WARN) $(CDEFS)
DARWIN_LDFLAGS := -target $(DARWIN_TARGET) -shared -nostdlib -fuse-ld=lld \
                  --ld-path=$(shell command -v $(DARWIN_LD)) \
                  -install_name @rpath/libane.dylib -Wl,-dead_strip -Wl,-dead_strip_dylibs
CHECK_DYLIB   := bash libane/darwin/check-dylib.sh

.PHONY: dist darwin-lib

darwin-lib: $(DARWIN)/libane.dylib

# Object paths mirror the source path, so any source folder (and .c next to .m of the
# same name) maps to its own object.
$(DARWIN)/obj/%.c.o: %.c $(LIB_HDRS) libane/darwin/darwin.mk
	@mkdir -p $(@D)
	$(DARWIN_CC) $(DARWIN_CFLAGS) -c -o $@ $<

$(DARWIN)/obj/%.m.o: %.m $(LIB_HDRS) libane/darwin/darwin.mk
	@mkdir -p $(@D)
	$(DARWIN_CC) $(DARWIN_CFLAGS) -fobjc-exceptions -c -o $@ $<

$(DARWIN)/libane.dylib: $(DARWIN_OBJS) $(DARWIN_STUBS)
	@test -n "$(shell command -v $(DARWIN_LD))" || { echo "darwin: $(DARWIN_LD) not found: apt-get install lld-16" >&2; exit 1; }
	$(DARWIN_CC) $(DARWIN_LDFLAGS) -o $@ $(DARWIN_OBJS) $(DARWIN_STUBS)

dist/libane.dylib: $(DARWIN)/libane.dylib libane/include/ane.h libane/darwin/check-dylib.sh
	$(CHECK_DYLIB) darwin $< libane/include/ane.h
	@mkdir -p dist
	cp $< $@

dist/rustane-darwin-arm64: dist/libane.dylib $(CORPUS) $(TS_SRCS) scripts/build.ts package.json
	$(BUN) scripts/build.ts --target darwin-arm64 --lib dist/libane.dylib --out $@
	@file -b $@ | grep -q '^Mach-O 64-bit arm64 executable' || \
	  { echo "dist: $@ is not a Mach-O arm64 executable: $$(file -b $@)" >&2; rm -f $@; exit 1; }

dist/rustane-linux-x64: $(HOST)/libane.so $(CORPUS) $(TS_SRCS) scripts/build.ts package.json
	$(CHECK_DYLIB) host $(HOST)/libane.so libane/include/ane.h
	$(BUN) scripts/build.ts --target host --lib $(HOST)/libane.so --out $@
	@file -b $@ | grep -q '^ELF 64-bit LSB .*x86-64' || \
	  { echo "dist: $@ is not an x86-64 ELF executable: $$(file -b $@)" >&2; rm -f $@; exit 1; }

dist: dist/libane.dylib dist/rustane-darwin-arm64 dist/rustane-linux-x64
	@ls -l $^
