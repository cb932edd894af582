/* SPDX-License-Identifier: Apache-2.0 */
/* The supervisor's side of one slot's worker process.  Two ways to get one:
 *  - spawn: the supervisor starts the worker itself with a socketpair on its
 *    fd 3 (no init system needed; the worker has the supervisor's rights);
 *  - connect: the supervisor connects to SOCKET_DIR/SLOT.sock and systemd
 *    socket-activates vmedia-worker@SLOT.service, which runs with the
 *    worker's own user and capabilities (units/).
 * Either way, the worker is started again when it goes (with a back-off when
 * it keeps going), and stopped on shutdown by hanging up on it. */
#pragma once

#include <glib.h>

#include "common/msg.h"

struct worker_launch {
	const char *program;	 /* spawn: the vmedia-worker binary */
	const char *config_path; /* spawn: passed to it as --config */
	const char *socket_dir;	 /* set: connect instead of spawning */
};

typedef struct _WorkerProc WorkerProc;

typedef void (*WorkerProcMessageFunc)(struct vm_msg *m, gpointer user_data);
/* The worker has gone (exited, was killed, or hung up). */
typedef void (*WorkerProcGoneFunc)(gpointer user_data);

WorkerProc *worker_proc_new(const struct worker_launch *how, const char *slot,
			    WorkerProcMessageFunc on_message, WorkerProcGoneFunc on_gone,
			    gpointer user_data);
void worker_proc_start(WorkerProc *wp);
int worker_proc_send(WorkerProc *wp, const struct vm_msg *m);
/* For a worker that misbehaves: a spawned one gets SIGKILL (its successor
 * cleans up after it); a socket-activated one is hung up on (it is not ours
 * to signal: it cleans up and exits, and a new one is connected). */
void worker_proc_kill(WorkerProc *wp);
/* Hang up (the worker cleans up and exits) and do not start it again.
 * Returns TRUE if the worker is still to go (on_gone follows). */
gboolean worker_proc_stop(WorkerProc *wp);
void worker_proc_free(WorkerProc *wp);
