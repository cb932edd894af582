# SPDX-License-Identifier: Apache-2.0
# libFuzzer targets (test/fuzz/fuzz-*.c), included from the Makefile.
#
#   make check-fuzz   build, replay every corpus file, then FUZZ_CHECK_SECONDS
#                     (20) of fuzzing per target; fails on any crash, leak, UB
#                     or broken invariant.  Part of `make check`.
#   make fuzz         the long run: FUZZ_SECONDS (600) per target, new inputs
#                     kept in $(FUZZ_B)/corpus/<target>
#   make fuzz-merge   add what those inputs newly cover to test/fuzz/corpus
#   make fuzz-seeds   rewrite the generated seeds (test/fuzz/make-seeds.c)
#
# The code under test is rebuilt with clang, coverage and ASan/UBSan in
# $(FUZZ_B), by the Makefile's own rules with B=$(FUZZ_B).

FUZZ_B       := $(B)/fuzz
FUZZ_TARGETS := config credentials msg msg-recv gadget-helper
FUZZ_CC      ?= clang
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# only the objects the targets test: fewer to compile within check-fuzz's time
FUZZ_OBJS    := $(addprefix $(FUZZ_B)/obj/,common/msg.o common/config.o common/image_url.o \
                  worker/credentials.o gadget-helper/request.o)
FUZZ_BINS    := $(addprefix $(FUZZ_B)/fuzz-,$(FUZZ_TARGETS))
FUZZ_SECONDS ?= 600
FUZZ_CHECK_SECONDS ?= 20

$(FUZZ_B)/fuzz-%: test/fuzz/fuzz-%.c $(FUZZ_OBJS)
	$(FUZZ_CC) -std=gnu11 $(WARN) $(DEFS) -I. -O1 -g -fsanitize=fuzzer $(FUZZ_SAN) $(PKG_CFLAGS) \
	  -MMD -MP -o $@ $< $(FUZZ_OBJS) $(PKG_LIBS)

fuzz-build:
	$(MAKE) --no-print-directory B=$(FUZZ_B) CC=$(FUZZ_CC) LDFLAGS= \
	  CFLAGS='-O1 -g -fsanitize=fuzzer-no-link $(FUZZ_SAN)' $(FUZZ_OBJS)
	$(MAKE) --no-print-directory $(FUZZ_BINS)

check-fuzz: fuzz-build
	test/fuzz/run check $(FUZZ_CHECK_SECONDS) $(FUZZ_B) $(FUZZ_TARGETS)

fuzz: fuzz-build
	test/fuzz/run long $(FUZZ_SECONDS) $(FUZZ_B) $(FUZZ_TARGETS)

fuzz-merge: fuzz-build
	test/fuzz/run merge 0 $(FUZZ_B) $(FUZZ_TARGETS)

$(B)/fuzz-seeds/make-seeds: test/fuzz/make-seeds.c $(B)/libvmcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS_ALL) -o $@ $^

fuzz-seeds: $(B)/fuzz-seeds/make-seeds
	$< test/fuzz/corpus
	cp conf/config.json test/fuzz/corpus/config/shipped.json

clean-fuzz:
	rm -rf $(FUZZ_B) $(B)/fuzz-seeds
clean: clean-fuzz

.PHONY: fuzz-build check-fuzz fuzz fuzz-merge fuzz-seeds clean-fuzz
