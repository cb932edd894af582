/* SPDX-License-Identifier: Apache-2.0 */
/* A Landlock sandbox for nbdkit, the one child that talks to image servers:
 * should a malicious server exploit it, it runs as the worker's user and could
 * otherwise open every NBD device (they are that user's group's).  With the
 * sandbox it can read the system's libraries and /etc, make its socket and
 * pid file, read its image — nothing else (no /dev/nbd*, no configfs, no
 * other slot's share).  Connecting to sockets and stat() are not confined
 * (Landlock ABI 2, Linux 6.1). */
#pragma once

#include <glib.h>

#include "common/config.h"

/* The rule set for one nbdkit of this slot: rundir holds its pid file; image
 * (or NULL) is the file it serves, writable if rw.  Returns a Landlock rule
 * set fd, or -1 if the kernel has no Landlock (logged; nbdkit then runs
 * without it) or the rule set cannot be made (logged). */
int sandbox_nbdkit(const struct vm_slot_config *slot, const char *rundir, const char *image,
		   gboolean rw);
/* In the child, between fork and exec (async-signal-safe): no_new_privs, then
 * the rule set.  Returns 0 or -1; the child should not exec on -1. */
int sandbox_enter(int ruleset);
