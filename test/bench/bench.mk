# SPDX-License-Identifier: Apache-2.0
# make bench (issue 8): the benchmark, in the virtual BMC (test/bench/bench.py).
# The table goes to stdout and to $(B)/bench/results.md; copy it to
# test/bench/results.md (and the README) when the numbers move.
bench: deps
	$(MAKE) --no-print-directory all
ifeq ($(ARCH),)
	test/bench/run $(B)/bench/results.md
else
	$(bench-cross)
endif

# make bench ARCH=armhf (issue 14): the footprint on the target architecture
# (bench.py's footprint section) in its virtual BMC, with the programs
# stripped here by the cross strip (the armhf root has no binutils).
define bench-cross
	@mkdir -p $(B)/stripped
	for p in $(notdir $(PROGRAMS)); do $(TRIPLET)-strip -o $(B)/stripped/$$p $(B)/$$p || exit 1; done
	VMRUN_ARCH=$(ARCH) VMEDIA_BUILD=$(CURDIR)/$(B) BENCH_STRIPPED=$(CURDIR)/$(B)/stripped \
	  BENCH_ONLY=$${BENCH_ONLY:-footprint} BENCH_MIB=$${BENCH_MIB:-16} test/bench/run $(B)/bench/results.md
endef

.PHONY: bench
