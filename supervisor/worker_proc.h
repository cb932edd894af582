/* The supervisor's side of one slot's worker process: starts it with a
 * socketpair on its fd 3, restarts it when it dies (with a back-off when it
 * keeps dying), and stops it on shutdown. */
#pragma once

#include <glib.h>

#include "common/msg.h"

typedef struct _WorkerProc WorkerProc;

typedef void (*WorkerProcMessageFunc)(struct vm_msg *m, gpointer user_data);
/* The process has exited (after a kill, a crash or a stop). */
typedef void (*WorkerProcGoneFunc)(gpointer user_data);

WorkerProc *worker_proc_new(const char *program, const char *config_path, const char *slot,
			    WorkerProcMessageFunc on_message, WorkerProcGoneFunc on_gone,
			    gpointer user_data);
void worker_proc_start(WorkerProc *wp);
int worker_proc_send(WorkerProc *wp, const struct vm_msg *m);
/* SIGKILL; the process is restarted and cleans up after its predecessor. */
void worker_proc_kill(WorkerProc *wp);
/* Close the channel (the worker cleans up and exits) and do not restart it.
 * Returns TRUE if a process is still to exit (on_gone follows). */
gboolean worker_proc_stop(WorkerProc *wp);
void worker_proc_free(WorkerProc *wp);
