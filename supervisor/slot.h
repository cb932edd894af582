/* SPDX-License-Identifier: Apache-2.0 */
/* One slot of the configuration: its D-Bus object (Process, MountPoint, Stats
 * and Proxy or Legacy), its state machine, its watchdog and its worker. */
#pragma once

#include <gio/gio.h>

#include "common/config.h"

typedef struct _Slot Slot;

#include "supervisor/worker_proc.h"

Slot *slot_new(const struct vm_slot_config *cfg, const struct worker_launch *worker,
	       GDBusObjectManagerServer *manager);
/* Starts a worker that cleans what a previous instance may have left; the
 * slot becomes usable (Ready) when it has, and the worker is let go. */
void slot_start(Slot *s);
/* Shutdown: the worker cleans up and exits.  Calls done() once it has
 * (at once if there was none). */
void slot_stop(Slot *s, GFunc done, gpointer user_data);
/* A stop that takes too long: the worker is killed (or hung up on). */
void slot_stop_now(Slot *s);
void slot_free(Slot *s);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Slot, slot_free)
