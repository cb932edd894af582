/* SPDX-License-Identifier: Apache-2.0 */
/* The host's I/O and the inactivity deadline: see activity.h. */
#include "supervisor/activity.h"

#include <stdio.h>

#define DENSE_US G_USEC_PER_SEC
#define SPARSE_MAX_S 30
#define SPARSE_DIVISOR 15

struct _Activity {
	char *stat_path;
	guint timeout_s;
	gint64 sparse_us;
	ActivityFunc on_announce;
	ActivityFunc on_idle;
	gpointer user_data;

	gboolean running;    /* counting: from activity_start() to _stop() */
	guint64 base[2];     /* the counters when the host got the media */
	guint64 seen[2];     /* at the last scheduled look */
	gint64 last_look;
	gint64 interval;     /* to the next look */
	gint64 deadline;     /* monotonic µs; 0 with no timeout */
	gint64 announced_at;
	gboolean unannounced; /* I/O seen since the last announcement */
	guint timer;
};

/* Reads and writes completed, from the block layer's stat file. */
static gboolean read_counters(Activity *a, guint64 io[2])
{
	g_autofree char *text = NULL;
	guint64 f[5];

	/* reads completed, reads merged, sectors read, ms reading, writes completed, ... */
	if (!g_file_get_contents(a->stat_path, &text, NULL, NULL) ||
	    sscanf(text, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
			 " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT,
		   &f[0], &f[1], &f[2], &f[3], &f[4]) != 5)
		return FALSE;
	io[0] = f[0];
	io[1] = f[4];
	return TRUE;
}

static void announce(Activity *a, gint64 now)
{
	a->unannounced = FALSE;
	a->announced_at = now;
	a->on_announce(a->user_data);
}

static gboolean on_look(gpointer data);

static void schedule(Activity *a, gint64 now)
{
	gint64 next = now + a->interval;

	if (a->deadline && next > a->deadline)
		next = a->deadline; /* a last look at the deadline itself */
	/* in ms, not whole seconds: g_timeout_add_seconds() may be a second off */
	a->timer = g_timeout_add(MAX(next - now, 0) / 1000 + 1, on_look, a);
}

static gboolean on_look(gpointer data)
{
	Activity *a = data;
	gint64 now = g_get_monotonic_time(), window = now - a->last_look;
	guint64 io[2];

	a->timer = 0;
	a->last_look = now;
	if (read_counters(a, io) && (io[0] != a->seen[0] || io[1] != a->seen[1])) {
		/* I/O in (last look, now]: taken to be in its middle */
		a->seen[0] = io[0];
		a->seen[1] = io[1];
		if (a->timeout_s)
			a->deadline = now - window / 2 + a->timeout_s * G_USEC_PER_SEC;
		a->interval = DENSE_US;
		a->unannounced = TRUE;
		if (now - a->announced_at >= a->sparse_us)
			announce(a, now);
	} else {
		if (a->unannounced) /* the host has gone quiet: its last counts */
			announce(a, now);
		if (a->deadline && now >= a->deadline) {
			a->on_idle(a->user_data); /* the counts stay readable */
			return G_SOURCE_REMOVE;
		}
		a->interval = MIN(a->interval * 2, a->sparse_us);
	}
	schedule(a, now);
	return G_SOURCE_REMOVE;
}

Activity *activity_new(const char *nbd_device, guint timeout_s, ActivityFunc on_announce,
		       ActivityFunc on_idle, gpointer user_data)
{
	Activity *a = g_new0(Activity, 1);
	g_autofree char *name = g_path_get_basename(nbd_device);
	guint sparse_s = timeout_s ? CLAMP(timeout_s / SPARSE_DIVISOR, 1, SPARSE_MAX_S) : SPARSE_MAX_S;

	a->stat_path = g_strdup_printf("/sys/block/%s/stat", name);
	a->timeout_s = timeout_s;
	a->sparse_us = (gint64)sparse_s * G_USEC_PER_SEC;
	a->on_announce = on_announce;
	a->on_idle = on_idle;
	a->user_data = user_data;
	return a;
}

void activity_start(Activity *a)
{
	gint64 now = g_get_monotonic_time();

	activity_stop(a);
	if (!read_counters(a, a->base))
		a->base[0] = a->base[1] = 0;
	a->seen[0] = a->base[0];
	a->seen[1] = a->base[1];
	a->running = TRUE;
	a->last_look = a->announced_at = now;
	a->unannounced = FALSE;
	/* dense at first: the host probes a new device */
	a->interval = DENSE_US;
	a->deadline = a->timeout_s ? now + a->timeout_s * G_USEC_PER_SEC : 0;
	schedule(a, now);
}

void activity_stop(Activity *a)
{
	g_clear_handle_id(&a->timer, g_source_remove);
	a->running = FALSE;
	a->deadline = 0;
}

void activity_counts(Activity *a, guint64 *reads, guint64 *writes)
{
	guint64 io[2];

	*reads = *writes = 0;
	if (!a->running || !read_counters(a, io))
		return;
	/* a device re-attached by someone else starts from 0 again */
	*reads = io[0] - MIN(io[0], a->base[0]);
	*writes = io[1] - MIN(io[1], a->base[1]);
}

guint activity_remaining(Activity *a)
{
	gint64 left;

	if (!a->running || !a->deadline)
		return 0;
	left = a->deadline - g_get_monotonic_time();
	return left <= 0 ? 0 : (guint)((left + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
}

void activity_free(Activity *a)
{
	if (!a)
		return;
	activity_stop(a);
	g_free(a->stat_path);
	g_free(a);
}
