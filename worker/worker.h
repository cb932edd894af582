/* SPDX-License-Identifier: Apache-2.0 */
/* The worker of one slot: takes Mount/Unmount requests from the supervisor,
 * drives nbd-client and the gadget-helper, and reports each outcome. */
#pragma once

#include <glib.h>

#include "common/config.h"

typedef struct _Worker Worker;

/* Takes ownership of supervisor_fd.  Calls g_main_loop_quit(loop) once the
 * supervisor has gone and the slot is clean.  known_clean: the slot's previous
 * worker left it clean (see worker_left_clean()): the start-up cleaning of
 * the gadget and the share, which costs a gadget-helper's start, is skipped. */
Worker *worker_new(const char *config_path, const struct vm_slot_config *slot, int supervisor_fd,
		   gboolean known_clean, GMainLoop *loop, GError **error);
/* After the loop has quit: TRUE if every step of the last teardown worked, so
 * that the slot is known to be clean. */
gboolean worker_left_clean(Worker *w);
void worker_free(Worker *w);
/* Clean up the slot, then quit the loop (on SIGTERM, or the supervisor gone). */
void worker_shutdown(Worker *w);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Worker, worker_free)
