/* SPDX-License-Identifier: Apache-2.0 */
/* The host's I/O on a mounted slot, and its inactivity deadline, from the NBD
 * device's counters in /sys/block/nbdN/stat (world-readable: the supervisor
 * reads them itself, no worker needed).
 *
 * The counters are looked at on a schedule that costs nothing per second
 * while the host is idle: every DENSE (1 s) while a look finds new I/O, then
 * at intervals that double with each quiet look up to the sparse interval
 * S = InactivityTimeout / 15, clamped to [1 s, 30 s] (30 s with no timeout),
 * and always one look at the deadline itself.  I/O is only known to have
 * happened between two looks: the last I/O is taken to be in the middle of
 * the window in which the counters last changed, so the deadline (and the
 * unmount) is within +-w/2 of InactivityTimeout after the real last I/O, w
 * being that window: 1 s when the host's I/O went on into a dense look, else
 * less than q + 1 s (q: the quiet time before that I/O) and at most S.  So
 * +-2 s always for InactivityTimeout <= 60 s, and for longer timeouts as long
 * as the last burst of I/O came within 3 s of the one before; an isolated
 * burst after a long quiet time is placed within +-S/2 (+-15 s at most). */
#pragma once

#include <glib.h>

typedef struct _Activity Activity;

typedef void (*ActivityFunc)(gpointer user_data);

/* timeout_s: the inactivity timeout, 0 for none.  on_announce: the counters
 * or the deadline changed; called at most once per sparse interval while the
 * host keeps doing I/O, and at the first quiet look after it stops.
 * on_idle: the deadline has passed with no I/O (the looks have stopped). */
Activity *activity_new(const char *nbd_device, guint timeout_s, ActivityFunc on_announce,
		       ActivityFunc on_idle, gpointer user_data);
void activity_free(Activity *a);

/* The host has the media: its I/O counts from now on, the deadline is
 * timeout_s from now, and the looks start. */
void activity_start(Activity *a);
/* No more looks; the counts and the remaining time read 0. */
void activity_stop(Activity *a);

/* The host's read and write requests since activity_start(), looked at now. */
void activity_counts(Activity *a, guint64 *reads, guint64 *writes);
/* Whole seconds to the deadline, rounded up; 0 when stopped or with no timeout. */
guint activity_remaining(Activity *a);
