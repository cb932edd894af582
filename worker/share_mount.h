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

/* The result of a GTask that mounted a share in a thread (an int): 0, an
 * errno, or ECANCELED when the caller has gone. */
int share_mount_finish(GAsyncResult *res);

/* Unmount whatever is mounted on the slot's mount point; 0 or a negative errno. */
int share_unmount(const char *slot);
