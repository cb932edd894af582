/* SPDX-License-Identifier: Apache-2.0 */
/* The slot state table: the seed design's rules, cell by cell where they matter. */
#include <errno.h>
#include <glib.h>

#include "supervisor/slot_state.h"

static void check(enum slot_state s, enum slot_event e, enum slot_state next,
		  enum slot_action action, int error)
{
	struct slot_transition t = slot_state_step(s, e);

	g_test_message("%s + %s", slot_state_to_str(s), slot_event_to_str(e));
	g_assert_cmpint(t.next, ==, next);
	g_assert_cmpint(t.action, ==, action);
	if (action == SLOT_ACT_REJECT || action == SLOT_ACT_ABORT || action == SLOT_ACT_KILL_WORKER)
		g_assert_cmpint(t.error, ==, error);
}

static void test_wrong_state_calls(void)
{
	/* Mount while Active: EPERM; anything while Starting or (De)Activating: EBUSY;
	 * Unmount while Ready: EPERM */
	static const enum slot_state busy[] = { SLOT_STARTING, SLOT_ACTIVATING, SLOT_DEACTIVATING };

	check(SLOT_ACTIVE, SLOT_EV_MOUNT, SLOT_ACTIVE, SLOT_ACT_REJECT, EPERM);
	check(SLOT_READY, SLOT_EV_UNMOUNT, SLOT_READY, SLOT_ACT_REJECT, EPERM);
	for (guint i = 0; i < G_N_ELEMENTS(busy); i++) {
		check(busy[i], SLOT_EV_MOUNT, busy[i], SLOT_ACT_REJECT, EBUSY);
		check(busy[i], SLOT_EV_UNMOUNT, busy[i], SLOT_ACT_REJECT, EBUSY);
	}
	check(SLOT_UNAVAILABLE, SLOT_EV_MOUNT, SLOT_UNAVAILABLE, SLOT_ACT_REJECT, EBUSY);
}

static void test_happy_path(void)
{
	/* the worker that cleaned the slot at start is let go; a Mount starts one */
	check(SLOT_UNAVAILABLE, SLOT_EV_WORKER_READY, SLOT_READY, SLOT_ACT_RETIRE, 0);
	check(SLOT_READY, SLOT_EV_MOUNT, SLOT_STARTING, SLOT_ACT_START_WORKER, 0);
	check(SLOT_STARTING, SLOT_EV_WORKER_READY, SLOT_ACTIVATING, SLOT_ACT_START_MOUNT, 0);
	check(SLOT_ACTIVATING, SLOT_EV_MOUNTED, SLOT_ACTIVE, SLOT_ACT_COMPLETE, 0);
	check(SLOT_ACTIVE, SLOT_EV_UNMOUNT, SLOT_DEACTIVATING, SLOT_ACT_START_UNMOUNT, 0);
	/* back to Ready: the worker goes */
	check(SLOT_DEACTIVATING, SLOT_EV_UNMOUNTED, SLOT_READY, SLOT_ACT_FINISH, 0);
}

static void test_failures_end_ready_or_restarting(void)
{
	check(SLOT_ACTIVATING, SLOT_EV_MOUNT_FAILED, SLOT_READY, SLOT_ACT_FINISH, 0);
	check(SLOT_STARTING, SLOT_EV_MOUNT_FAILED, SLOT_READY, SLOT_ACT_FINISH, 0);
	check(SLOT_ACTIVE, SLOT_EV_LOST, SLOT_READY, SLOT_ACT_FINISH, 0);
	/* a worker that does not come up in time is killed; another cleans the slot */
	check(SLOT_STARTING, SLOT_EV_WATCHDOG, SLOT_UNAVAILABLE, SLOT_ACT_KILL_WORKER, ETIMEDOUT);
	check(SLOT_STARTING, SLOT_EV_WORKER_GONE, SLOT_UNAVAILABLE, SLOT_ACT_COMPLETE, 0);
	check(SLOT_ACTIVATING, SLOT_EV_WATCHDOG, SLOT_DEACTIVATING, SLOT_ACT_ABORT, ETIMEDOUT);
	check(SLOT_DEACTIVATING, SLOT_EV_WATCHDOG, SLOT_UNAVAILABLE, SLOT_ACT_KILL_WORKER, ETIMEDOUT);
	/* the late answer of an aborted mount changes nothing */
	check(SLOT_DEACTIVATING, SLOT_EV_MOUNTED, SLOT_DEACTIVATING, SLOT_ACT_NONE, 0);
	check(SLOT_DEACTIVATING, SLOT_EV_MOUNT_FAILED, SLOT_DEACTIVATING, SLOT_ACT_NONE, 0);
	/* a dead worker: an operation under way completes; the slot waits for the new one */
	check(SLOT_ACTIVATING, SLOT_EV_WORKER_GONE, SLOT_UNAVAILABLE, SLOT_ACT_COMPLETE, 0);
	check(SLOT_ACTIVE, SLOT_EV_WORKER_GONE, SLOT_UNAVAILABLE, SLOT_ACT_COMPLETE, 0);
	/* Ready has no worker whose loss could matter */
	check(SLOT_READY, SLOT_EV_WORKER_GONE, SLOT_READY, SLOT_ACT_NONE, 0);
}

static void test_every_cell_is_defined(void)
{
	/* no cell left to the zero default by mistake: only Unavailable may be a target
	 * with no action, and only on events that cannot come from a ready worker */
	for (int s = 0; s < SLOT_STATE_MAX; s++)
		for (int e = 0; e < SLOT_EVENT_MAX; e++) {
			struct slot_transition t = slot_state_step(s, e);
			if (t.next == SLOT_UNAVAILABLE && t.action == SLOT_ACT_NONE)
				g_assert_true(s == SLOT_UNAVAILABLE);
			/* every way back to Ready lets the worker go */
			if (t.next == SLOT_READY && s != SLOT_READY)
				g_assert_true(t.action == SLOT_ACT_FINISH || t.action == SLOT_ACT_RETIRE);
			/* the watchdog never fires into a state without an operation */
			if (e == SLOT_EV_WATCHDOG && (s == SLOT_READY || s == SLOT_ACTIVE))
				g_assert_cmpint(t.action, ==, SLOT_ACT_NONE);
		}
	g_assert_cmpint(slot_state_step(SLOT_STATE_MAX, 0).action, ==, SLOT_ACT_NONE);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/slot-state/wrong-state-calls", test_wrong_state_calls);
	g_test_add_func("/slot-state/happy-path", test_happy_path);
	g_test_add_func("/slot-state/failures", test_failures_end_ready_or_restarting);
	g_test_add_func("/slot-state/every-cell", test_every_cell_is_defined);
	return g_test_run();
}
