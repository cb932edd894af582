/* SPDX-License-Identifier: Apache-2.0 */
/* The gadget-helper's log: one line per action or refusal on stderr, which the
 * worker passes on to the journal. */
#pragma once

/* "gadget-helper[SLOT]: ..." once bound to a slot, "gadget-helper: ..." before. */
__attribute__((format(printf, 2, 3)))
void gh_log(const char *slot, const char *fmt, ...);
