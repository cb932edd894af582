/* SPDX-License-Identifier: Apache-2.0 */
/* The state machine of one slot, as a table: what each event does in each
 * state.  Pure data and one lookup, so it can be read, tested and changed in
 * one place; slot.c carries out the actions. */
#pragma once

/* A worker runs in every state but READY: the slot is idle and clean, and
 * nothing of the service runs for it. */
enum slot_state {
	SLOT_UNAVAILABLE, /* a worker cleans the slot (at start, after a crash): no calls yet */
	SLOT_READY,       /* idle and clean; no worker */
	SLOT_STARTING,    /* a Mount's worker is starting and cleaning the slot */
	SLOT_ACTIVATING,
	SLOT_ACTIVE,
	SLOT_DEACTIVATING,
	SLOT_STATE_MAX
};

enum slot_event {
	SLOT_EV_MOUNT,          /* D-Bus Mount call */
	SLOT_EV_UNMOUNT,        /* D-Bus Unmount call */
	SLOT_EV_WORKER_READY,   /* the worker has started and cleaned the slot */
	SLOT_EV_MOUNTED,        /* the worker: mounted */
	SLOT_EV_MOUNT_FAILED,   /* the worker: the mount failed (errno), the slot is clean */
	SLOT_EV_UNMOUNTED,      /* the worker: unmounted, the slot is clean */
	SLOT_EV_LOST,           /* the worker: the media went away by itself (errno), clean */
	SLOT_EV_WATCHDOG,       /* the operation took longer than Timeout + 5 s */
	SLOT_EV_WORKER_GONE,    /* the worker process has exited */
	SLOT_EV_INACTIVE,       /* the host did no I/O for the inactivity timeout */
	SLOT_EVENT_MAX
};

enum slot_action {
	SLOT_ACT_NONE,          /* nothing: a late or repeated answer */
	SLOT_ACT_REJECT,        /* refuse the call at once with errno .error */
	SLOT_ACT_START_WORKER,  /* arm the watchdog; start a worker (the mount waits for
				   its WORKER_READY) */
	SLOT_ACT_START_MOUNT,   /* ask the worker to mount (the watchdog runs on) */
	SLOT_ACT_START_UNMOUNT, /* ask the worker to unmount; arm the watchdog */
	SLOT_ACT_COMPLETE,      /* disarm; Completion(the pending error, else the event's) */
	SLOT_ACT_FINISH,        /* COMPLETE, and let the worker go: the slot is clean */
	SLOT_ACT_RETIRE,        /* let the worker go: it has cleaned the slot */
	SLOT_ACT_ABORT,         /* a stuck mount: pending error .error, ask the worker to
				   unmount, re-arm the watchdog */
	SLOT_ACT_KILL_WORKER,   /* a stuck worker: Completion(.error), kill it; another
				   is started, cleans the slot and is let go */
};

struct slot_transition {
	enum slot_state next;
	enum slot_action action;
	int error; /* for REJECT, ABORT and KILL_WORKER */
};

struct slot_transition slot_state_step(enum slot_state state, enum slot_event event);

const char *slot_state_to_str(enum slot_state state);
const char *slot_event_to_str(enum slot_event event);
