/* SPDX-License-Identifier: Apache-2.0 */
/* An smb:// image's share, mounted with the kernel's CIFS client on the
 * slot's mount point (share_mount.h): SMB 3.1.1 with encryption required,
 * else SMB 3.0 with encryption, never less. */
#pragma once

#include <gio/gio.h>

#include "worker/credentials.h"

/* Mount //host/share on the slot's mount point, in a thread (resolving the
 * host and the mount itself may block).  creds are copied (and wiped).  The
 * result comes with share_task_finish(): 0, or the errno of the failure
 * (logged). */
void smb_share_mount_async(const char *slot, const char *host, int port, const char *share,
			   const struct vm_credentials *creds, gboolean rw, GCancellable *cancellable,
			   GAsyncReadyCallback callback, gpointer user_data);
/* "a,b" -> "a,,b": a comma ends an option of the kernel's CIFS client. */
char *smb_escape_option(const char *value);
