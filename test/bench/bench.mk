# SPDX-License-Identifier: Apache-2.0
# make bench (issue 8): the benchmark, in the virtual BMC (test/bench/bench.py).
# The table goes to stdout and to $(B)/bench/results.md; copy it to
# test/bench/results.md (and the README) when the numbers move.
bench: deps
	$(MAKE) --no-print-directory all
	test/bench/run $(B)/bench/results.md

.PHONY: bench
