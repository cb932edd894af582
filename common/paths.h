/* SPDX-License-Identifier: Apache-2.0 */
/* Where the service's own programs are. */
#pragma once

/* NAME next to the running program (the build tree, or a test's copy), else
 * in LIBEXECDIR.  Returns a newly allocated path. */
char *vm_find_program(const char *name);
