/* An smb:// image's share, mounted with the kernel's CIFS client: SMB 3.1.1
 * with encryption required, else SMB 3.0 with encryption, never less.  The
 * mount point is the slot's own (/run/vmedia/<slot>), so that what a crash
 * left is found and removed at the next start. */
#pragma once

#include <gio/gio.h>

#include "worker/credentials.h"

#define VM_SHARE_RUN_DIR "/run/vmedia"

/* The slot's mount point. */
char *smb_share_mountpoint(const char *slot);

/* Mount //host/share on the slot's mount point, in a thread (resolving the
 * host and the mount itself may block).  creds are copied (and wiped). */
void smb_share_mount_async(const char *slot, const char *host, int port, const char *share,
			   const struct vm_credentials *creds, gboolean rw, GCancellable *cancellable,
			   GAsyncReadyCallback callback, gpointer user_data);
/* 0, or the errno of the failure (logged). */
int smb_share_mount_finish(GAsyncResult *res);

/* Unmount the slot's share if it is mounted; 0 or a negative errno. */
int smb_share_unmount(const char *slot);

/* "a,b" -> "a,,b": a comma ends an option of the kernel's CIFS client. */
char *smb_escape_option(const char *value);
