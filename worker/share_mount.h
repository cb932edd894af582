/* SPDX-License-Identifier: Apache-2.0 */
/* What the network shares of Legacy images (smb://, nfs://) have in common:
 * the slot's own mount point (/run/vmedia/<slot>, so that what a crash left
 * is found and removed at the next start), resolving the server's name in the
 * worker, and the way back. */
#pragma once

#include <gio/gio.h>
#include <stddef.h>

#define VM_SHARE_RUN_DIR "/run/vmedia"

/* The slot's mount point. */
char *share_mountpoint(const char *slot);

/* What every share's mount does first: make the mount point (and its
 * parent), then resolve host to its first address, as text, into addr
 * (INET6_ADDRSTRLEN bytes).  0, or an errno (logged): EHOSTUNREACH when the
 * name does not resolve. */
int share_prepare(const char *mountpoint, const char *host, char *addr, size_t len);

/* Unmount whatever is mounted on the slot's mount point, in a thread; the
 * callback gets the result from share_task_finish(). */
void share_unmount_async(const char *slot, GCancellable *cancellable, GAsyncReadyCallback callback,
			 gpointer user_data);

/* The result of a GTask that mounted or unmounted a share in a thread (an
 * int): 0, an errno, or ECANCELED when the caller has gone. */
int share_task_finish(GAsyncResult *res);
