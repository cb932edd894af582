/* SPDX-License-Identifier: Apache-2.0 */
/* The worker of one slot: takes Mount/Unmount requests from the supervisor,
 * drives nbd-client and the gadget-helper, and reports each outcome. */
#pragma once

#include <glib.h>

#include "common/config.h"

typedef struct _Worker Worker;

/* Takes ownership of supervisor_fd.  Calls g_main_loop_quit(loop) once the
 * supervisor has gone and the slot is clean. */
Worker *worker_new(const char *config_path, const struct vm_slot_config *slot, int supervisor_fd,
		   GMainLoop *loop, GError **error);
void worker_free(Worker *w);
/* Clean up the slot, then quit the loop (on SIGTERM, or the supervisor gone). */
void worker_shutdown(Worker *w);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Worker, worker_free)
