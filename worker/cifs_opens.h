/* SPDX-License-Identifier: Apache-2.0 */
/* The files Linux's cifs client still holds for processes that have died.
 *
 * A process killed in the middle of a read on a cifs share (nbdkit, when it
 * crashes or is killed) leaves the read in flight: the kernel keeps the file,
 * and with it the file's dentry, until the server's answer has come and the
 * file is closed, later and in a kernel thread.  Unmounting the share before
 * that ends in "BUG: Dentry ... still in use" and "Busy inodes after unmount"
 * (a BUG() in generic_shutdown_super, Linux 6.1): the unmounting thread dies
 * with the share's superblock locked and every later mount of that server
 * hangs.  /proc/fs/cifs/open_files lists those files with their opener's pid,
 * until the kernel closes them on the server; /proc/fs/cifs/Stats counts, per
 * share, the files open locally and those still open on the server (a close
 * on its way) and the requests in flight.  A share is unmounted once no dead
 * process has a file and no close is on its way. */
#pragma once

#include <glib.h>

struct cifs_leftovers {
	guint dead_opens;	/* files of processes that no longer run (or zombies) */
	guint closing;		/* files still open on the server, not here, with
				 * requests in flight: their close is on its way */
};

/* What the texts of /proc/fs/cifs/open_files and /proc/fs/cifs/Stats say
 * the kernel still does for files nobody has open; either text may be "". */
struct cifs_leftovers cifs_leftovers_parse(const char *open_files, const char *stats);

/* Waits until the cifs client has no leftovers (and has had none for a
 * moment: the last reference goes in queued work after the close), at most
 * limit_ms milliseconds; blocks: call it from a thread.  TRUE once none is
 * held (at once when the kernel has no cifs client), FALSE at the limit.
 * what names the share in the log lines. */
gboolean cifs_wait_for_dead_opens(const char *what, guint limit_ms);
