/* SPDX-License-Identifier: Apache-2.0 */
/* The slot state machine table: see slot_state.h. */
#include "supervisor/slot_state.h"

#include <errno.h>

#define T(next_, action_, error_) { SLOT_##next_, SLOT_ACT_##action_, error_ }
#define STAY(state_) T(state_, NONE, 0)

static const struct slot_transition table[SLOT_STATE_MAX][SLOT_EVENT_MAX] = {
	[SLOT_UNAVAILABLE] = {
		[SLOT_EV_MOUNT]        = T(UNAVAILABLE, REJECT, EBUSY),
		[SLOT_EV_UNMOUNT]      = T(UNAVAILABLE, REJECT, EBUSY),
		[SLOT_EV_WORKER_READY] = T(READY, RETIRE, 0),
		[SLOT_EV_MOUNTED]      = STAY(UNAVAILABLE),
		[SLOT_EV_MOUNT_FAILED] = STAY(UNAVAILABLE),
		[SLOT_EV_UNMOUNTED]    = STAY(UNAVAILABLE),
		[SLOT_EV_LOST]         = STAY(UNAVAILABLE),
		[SLOT_EV_WATCHDOG]     = STAY(UNAVAILABLE),
		[SLOT_EV_WORKER_GONE]  = STAY(UNAVAILABLE), /* another one is started */
		[SLOT_EV_INACTIVE]     = STAY(UNAVAILABLE),
	},
	[SLOT_READY] = {
		[SLOT_EV_MOUNT]        = T(STARTING, START_WORKER, 0),
		[SLOT_EV_UNMOUNT]      = T(READY, REJECT, EPERM),
		[SLOT_EV_WORKER_READY] = STAY(READY),
		[SLOT_EV_MOUNTED]      = STAY(READY),
		[SLOT_EV_MOUNT_FAILED] = STAY(READY),
		[SLOT_EV_UNMOUNTED]    = STAY(READY),
		[SLOT_EV_LOST]         = STAY(READY),
		[SLOT_EV_WATCHDOG]     = STAY(READY),
		[SLOT_EV_WORKER_GONE]  = STAY(READY),
		[SLOT_EV_INACTIVE]     = STAY(READY),
	},
	[SLOT_STARTING] = {
		[SLOT_EV_MOUNT]        = T(STARTING, REJECT, EBUSY),
		[SLOT_EV_UNMOUNT]      = T(STARTING, REJECT, EBUSY),
		[SLOT_EV_WORKER_READY] = T(ACTIVATING, START_MOUNT, 0),
		[SLOT_EV_MOUNTED]      = STAY(STARTING),
		[SLOT_EV_MOUNT_FAILED] = T(READY, FINISH, 0), /* refused before any worker */
		[SLOT_EV_UNMOUNTED]    = STAY(STARTING),
		[SLOT_EV_LOST]         = STAY(STARTING),
		[SLOT_EV_WATCHDOG]     = T(UNAVAILABLE, KILL_WORKER, ETIMEDOUT),
		[SLOT_EV_WORKER_GONE]  = T(UNAVAILABLE, COMPLETE, 0),
		[SLOT_EV_INACTIVE]     = STAY(STARTING),
	},
	[SLOT_ACTIVATING] = {
		[SLOT_EV_MOUNT]        = T(ACTIVATING, REJECT, EBUSY),
		[SLOT_EV_UNMOUNT]      = T(ACTIVATING, REJECT, EBUSY),
		[SLOT_EV_WORKER_READY] = STAY(ACTIVATING),
		[SLOT_EV_MOUNTED]      = T(ACTIVE, COMPLETE, 0),
		[SLOT_EV_MOUNT_FAILED] = T(READY, FINISH, 0),
		[SLOT_EV_UNMOUNTED]    = STAY(ACTIVATING),
		[SLOT_EV_LOST]         = T(READY, FINISH, 0),
		[SLOT_EV_WATCHDOG]     = T(DEACTIVATING, ABORT, ETIMEDOUT),
		[SLOT_EV_WORKER_GONE]  = T(UNAVAILABLE, COMPLETE, 0),
		[SLOT_EV_INACTIVE]     = STAY(ACTIVATING),
	},
	[SLOT_ACTIVE] = {
		[SLOT_EV_MOUNT]        = T(ACTIVE, REJECT, EPERM),
		[SLOT_EV_UNMOUNT]      = T(DEACTIVATING, START_UNMOUNT, 0),
		[SLOT_EV_WORKER_READY] = STAY(ACTIVE),
		[SLOT_EV_MOUNTED]      = STAY(ACTIVE),
		[SLOT_EV_MOUNT_FAILED] = STAY(ACTIVE),
		[SLOT_EV_UNMOUNTED]    = T(READY, FINISH, 0),
		[SLOT_EV_LOST]         = T(READY, FINISH, 0),
		[SLOT_EV_WATCHDOG]     = STAY(ACTIVE),
		[SLOT_EV_WORKER_GONE]  = T(UNAVAILABLE, COMPLETE, 0),
		[SLOT_EV_INACTIVE]     = T(DEACTIVATING, START_UNMOUNT, 0), /* as Unmount would */
	},
	[SLOT_DEACTIVATING] = {
		[SLOT_EV_MOUNT]        = T(DEACTIVATING, REJECT, EBUSY),
		[SLOT_EV_UNMOUNT]      = T(DEACTIVATING, REJECT, EBUSY),
		[SLOT_EV_WORKER_READY] = STAY(DEACTIVATING),
		[SLOT_EV_MOUNTED]      = STAY(DEACTIVATING), /* the answer to an aborted mount */
		[SLOT_EV_MOUNT_FAILED] = STAY(DEACTIVATING),
		[SLOT_EV_UNMOUNTED]    = T(READY, FINISH, 0),
		[SLOT_EV_LOST]         = T(READY, FINISH, 0),
		[SLOT_EV_WATCHDOG]     = T(UNAVAILABLE, KILL_WORKER, ETIMEDOUT),
		[SLOT_EV_WORKER_GONE]  = T(UNAVAILABLE, COMPLETE, 0),
		[SLOT_EV_INACTIVE]     = STAY(DEACTIVATING),
	},
};

struct slot_transition slot_state_step(enum slot_state state, enum slot_event event)
{
	if ((unsigned)state >= SLOT_STATE_MAX || (unsigned)event >= SLOT_EVENT_MAX)
		return (struct slot_transition){ SLOT_UNAVAILABLE, SLOT_ACT_NONE, 0 };
	return table[state][event];
}

const char *slot_state_to_str(enum slot_state state)
{
	static const char *const names[] = {
		"Unavailable", "Ready", "Starting", "Activating", "Active", "Deactivating",
	};
	return (unsigned)state < SLOT_STATE_MAX ? names[state] : "?";
}

const char *slot_event_to_str(enum slot_event event)
{
	static const char *const names[] = {
		"Mount", "Unmount", "worker ready", "mounted", "mount failed", "unmounted",
		"media lost", "watchdog", "worker gone", "inactivity timeout",
	};
	return (unsigned)event < SLOT_EVENT_MAX ? names[event] : "?";
}
