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
	/* Mount while Active: EPERM; anything while (De)Activating: EBUSY; Unmount while Ready: EPERM */
	check(SLOT_ACTIVE, SLOT_EV_MOUNT, SLOT_ACTIVE, SLOT_ACT_REJECT, EPERM);
	check(SLOT_READY, SLOT_EV_UNMOUNT, SLOT_READY, SLOT_ACT_REJECT, EPERM);
	for (enum slot_state s = SLOT_ACTIVATING; s <= SLOT_DEACTIVATING; s += 2) {
		check(s, SLOT_EV_MOUNT, s, SLOT_ACT_REJECT, EBUSY);
		check(s, SLOT_EV_UNMOUNT, s, SLOT_ACT_REJECT, EBUSY);
	}
	check(SLOT_UNAVAILABLE, SLOT_EV_MOUNT, SLOT_UNAVAILABLE, SLOT_ACT_REJECT, EBUSY);
}

static void test_happy_path(void)
{
	check(SLOT_UNAVAILABLE, SLOT_EV_WORKER_READY, SLOT_READY, SLOT_ACT_NONE, 0);
	check(SLOT_READY, SLOT_EV_MOUNT, SLOT_ACTIVATING, SLOT_ACT_START_MOUNT, 0);
	check(SLOT_ACTIVATING, SLOT_EV_MOUNTED, SLOT_ACTIVE, SLOT_ACT_COMPLETE, 0);
	check(SLOT_ACTIVE, SLOT_EV_UNMOUNT, SLOT_DEACTIVATING, SLOT_ACT_START_UNMOUNT, 0);
	check(SLOT_DEACTIVATING, SLOT_EV_UNMOUNTED, SLOT_READY, SLOT_ACT_COMPLETE, 0);
}

static void test_failures_end_ready_or_restarting(void)
{
	check(SLOT_ACTIVATING, SLOT_EV_MOUNT_FAILED, SLOT_READY, SLOT_ACT_COMPLETE, 0);
	check(SLOT_ACTIVE, SLOT_EV_LOST, SLOT_READY, SLOT_ACT_COMPLETE, 0);
	check(SLOT_ACTIVATING, SLOT_EV_WATCHDOG, SLOT_DEACTIVATING, SLOT_ACT_ABORT, ETIMEDOUT);
	check(SLOT_DEACTIVATING, SLOT_EV_WATCHDOG, SLOT_UNAVAILABLE, SLOT_ACT_KILL_WORKER, ETIMEDOUT);
	/* the late answer of an aborted mount changes nothing */
	check(SLOT_DEACTIVATING, SLOT_EV_MOUNTED, SLOT_DEACTIVATING, SLOT_ACT_NONE, 0);
	check(SLOT_DEACTIVATING, SLOT_EV_MOUNT_FAILED, SLOT_DEACTIVATING, SLOT_ACT_NONE, 0);
	/* a dead worker: an operation under way completes; the slot waits for the new one */
	check(SLOT_ACTIVATING, SLOT_EV_WORKER_GONE, SLOT_UNAVAILABLE, SLOT_ACT_COMPLETE, 0);
	check(SLOT_ACTIVE, SLOT_EV_WORKER_GONE, SLOT_UNAVAILABLE, SLOT_ACT_COMPLETE, 0);
	check(SLOT_READY, SLOT_EV_WORKER_GONE, SLOT_UNAVAILABLE, SLOT_ACT_NONE, 0);
}

static void test_every_cell_is_defined(void)
{
	/* no cell left to the zero default by mistake: only Unavailable may be a target
	 * with no action, and only on events that cannot come from a ready worker */
	for (int s = 0; s < SLOT_STATE_MAX; s++)
		for (int e = 0; e < SLOT_EVENT_MAX; e++) {
			struct slot_transition t = slot_state_step(s, e);
			if (t.next == SLOT_UNAVAILABLE && t.action == SLOT_ACT_NONE)
				g_assert_true(s == SLOT_UNAVAILABLE || e == SLOT_EV_WORKER_GONE);
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
