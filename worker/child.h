/* SPDX-License-Identifier: Apache-2.0 */
/* A child process of the worker (nbd-client, nbdkit): started with GSubprocess,
 * its output logged line by line under the slot's name and kept for the
 * diagnosis of a failure, its exit reported once. */
#pragma once

#include <gio/gio.h>

typedef struct _Child Child;

/* exit_code: the exit status, or 128 + N when killed by signal N. */
typedef void (*ChildExitFunc)(int exit_code, gpointer user_data);

/* What a child keeps of the worker's rights. */
typedef enum {
	CHILD_KEEP_CAPS, /* nbd-client: CAP_SYS_ADMIN alone, which the NBD ioctls need */
	CHILD_NO_CAPS,	 /* nbdkit: talks to the network, needs no capability */
} ChildRights;

/* Starts argv; fds[i] (taken, may be NULL) become the child's fd 3 + i.
 * sandbox: -1, or a Landlock rule set (sandbox.h, taken) for a CHILD_NO_CAPS
 * child. */
Child *child_spawn(const char *slot, const char *const *argv, ChildRights rights, int sandbox,
		   const int *fds, guint n_fds, ChildExitFunc on_exit, gpointer user_data,
		   GError **error);
void child_kill(Child *c, int sig);
gboolean child_running(Child *c);
/* What the child printed (stdout and stderr), up to a few KiB. */
const char *child_output(Child *c);
const char *child_pid(Child *c);
/* Frees; a child still running is killed and reaped in the background. */
void child_free(Child *c);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Child, child_free)
