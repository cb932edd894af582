/* SPDX-License-Identifier: Apache-2.0 */
/* The files the cifs client holds for dead processes: see cifs_opens.h. */
#include "worker/cifs_opens.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define OPEN_FILES "/proc/fs/cifs/open_files"
#define STATS "/proc/fs/cifs/Stats"
#define POLL_MS 50
/* After the close's answer the kernel lets go of the file's dentry in queued
 * work: nothing must be left this long before the share is unmounted. */
#define CLEAR_MS 200

/* Gone, or a zombie: a zombie's files are closed, or being closed for it. */
static gboolean process_gone(int pid)
{
	char path[32], buf[512];
	FILE *f;
	size_t n;
	const char *paren;

	g_snprintf(path, sizeof path, "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT || errno == ESRCH;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) S ...": comm may hold anything, ')' included */
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

static guint dead_opens(const char *open_files)
{
	g_auto(GStrv) lines = g_strsplit(open_files, "\n", -1);
	guint dead = 0;

	/* "<tree id> <ses id> <persistent fid> <flags> <count> <pid> <uid> <filename>";
	 * comment lines start with '#' */
	for (char **l = lines; *l; l++) {
		int pid;

		if (**l == '#' || **l == '\0')
			continue;
		if (sscanf(*l, "%*s %*s %*s %*s %*s %d", &pid) == 1 && pid > 0 && process_gone(pid))
			dead++;
	}
	return dead;
}

/* "Operations (MIDs): N" (requests in flight, all shares), then for each
 * share "Open files: L total (local), R open on server" */
static guint closing(const char *stats)
{
	g_auto(GStrv) lines = g_strsplit(stats, "\n", -1);
	int mids = 0, local, remote;
	guint n = 0;

	for (char **l = lines; *l; l++) {
		const char *t = *l + strspn(*l, " \t");

		if (sscanf(t, "Operations (MIDs): %d", &mids) == 1)
			continue;
		if (sscanf(t, "Open files: %d total (local), %d open on server", &local, &remote) == 2 &&
		    remote > local)
			n += (guint)(remote - local);
	}
	/* with nothing in flight, a close has had its answer (or failed): a file
	 * the server still counts is the server's business, not ours */
	return mids > 0 ? n : 0;
}

struct cifs_leftovers cifs_leftovers_parse(const char *open_files, const char *stats)
{
	return (struct cifs_leftovers){ dead_opens(open_files), closing(stats) };
}

/* FALSE when there is nothing to read (no cifs client loaded), or it may not
 * be read (said: the unit gives the worker CAP_DAC_READ_SEARCH for it) */
static gboolean leftovers_now(const char *what, struct cifs_leftovers *out)
{
	g_autofree char *files = NULL, *stats = NULL;
	g_autoptr(GError) error = NULL;

	if (!g_file_get_contents(OPEN_FILES, &files, NULL, &error)) {
		if (!g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			g_warning("%s: %s: unmounting without waiting for the kernel to let go of "
				  "a dead nbdkit's files", what, error->message);
		return FALSE;
	}
	if (!g_file_get_contents(STATS, &stats, NULL, NULL))
		stats = g_strdup("");
	*out = cifs_leftovers_parse(files, stats);
	return TRUE;
}

gboolean cifs_wait_for_dead_opens(const char *what, guint limit_ms)
{
	gint64 start = g_get_monotonic_time(), clear_since = 0;
	gboolean said = FALSE;

	for (;;) {
		gint64 now = g_get_monotonic_time();
		struct cifs_leftovers l = { 0, 0 };

		if (!leftovers_now(what, &l) || (l.dead_opens == 0 && l.closing == 0)) {
			if (!said)
				return TRUE; /* nothing left: the usual case, no wait */
			if (!clear_since)
				clear_since = now;
			else if (now - clear_since >= CLEAR_MS * 1000)
				break;
		} else {
			if (!said)
				g_message("%s: the kernel still finishes the reads of %u file(s) of a "
					  "dead process (%u close(s) on the way): unmounting once it has",
					  what, l.dead_opens, l.closing);
			said = TRUE;
			clear_since = 0;
			if (now - start >= (gint64)limit_ms * 1000) {
				g_warning("%s: the kernel still holds %u file(s) of a dead process "
					  "(%u close(s) on the way) after %u s: unmounting anyway", what,
					  l.dead_opens, l.closing, limit_ms / 1000);
				return FALSE;
			}
		}
		g_usleep(POLL_MS * 1000);
	}
	g_message("%s: the kernel has let go of them (%" G_GINT64_FORMAT " ms)", what,
		  (g_get_monotonic_time() - start) / 1000);
	return TRUE;
}
