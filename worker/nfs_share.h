/* SPDX-License-Identifier: Apache-2.0 */
/* An nfs:// image's directory, mounted with the kernel's NFS client (NFSv4:
 * no rpcbind, statd or mount helper on the BMC) on the slot's mount point
 * (share_mount.h).  nfs://host[:port]/export/dir/image.iso mounts
 * host:/export/dir, so the URL need not say where the export begins. */
#pragma once

#include <gio/gio.h>

/* Mount host:dir on the slot's mount point in a thread (resolving the host
 * and the mount itself may block), read-only unless rw.  timeout (the slot's,
 * in seconds) bounds how long an unanswered server may take to fail.  The
 * result comes with share_task_finish(): 0, or an errno (logged in words):
 * EHOSTUNREACH, ECONNREFUSED, EACCES (not exported to us, or refused),
 * ETIMEDOUT, or what the kernel said. */
void nfs_share_mount_async(const char *slot, const char *host, int port, const char *dir,
			   gboolean rw, unsigned timeout, GCancellable *cancellable,
			   GAsyncReadyCallback callback, gpointer user_data);

/* The mount(2) data for NFS version vers on the server at addr (port <= 0:
 * 2049); timeout as above. */
char *nfs_mount_options(const char *vers, const char *addr, int port, unsigned timeout);
