/* SPDX-License-Identifier: Apache-2.0 */
/* The supervisor's side of one slot's worker process.  Two ways to get one:
 *  - spawn: the supervisor starts the worker itself with a socketpair on its
 *    fd 3 (no init system needed; the worker has the supervisor's rights);
 *  - connect: the supervisor connects to SOCKET_DIR/SLOT.sock and systemd
 *    socket-activates vmedia-worker@SLOT.service, which runs with the
 *    worker's own user and capabilities (units/).
 * A worker runs only while the slot needs one: from worker_proc_start() (the
 * slot is being cleaned, or used) until worker_proc_retire() (the slot is
 * clean and idle: the worker is let go, and exits).  One that goes before it
 * is let go is started again (with a back-off when it keeps going): its
 * successor cleans what it left.  On shutdown it is hung up on. */
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
/* Start a worker (unless one runs or is about to be started again). */
void worker_proc_start(WorkerProc *wp);
/* The slot is clean and idle: let the worker go (it has nothing to clean and
 * exits when we hang up) and do not start it again.  Its exit is not reported:
 * a worker started meanwhile waits for it on the slot's lock. */
void worker_proc_retire(WorkerProc *wp);
int worker_proc_send(WorkerProc *wp, const struct vm_msg *m);
/* For a worker that misbehaves: a spawned one gets SIGKILL (its successor
 * cleans up after it); a socket-activated one is hung up on (it is not ours
 * to signal: it cleans up and exits, and a new one is connected). */
void worker_proc_kill(WorkerProc *wp);
/* Hang up (the worker cleans up and exits) and do not start it again.
 * Returns TRUE if the worker is still to go (on_gone follows). */
gboolean worker_proc_stop(WorkerProc *wp);
void worker_proc_free(WorkerProc *wp);
