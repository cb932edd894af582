/* SPDX-License-Identifier: Apache-2.0 */
/* nbd-client: connects a Unix socket (the web server's in Proxy mode, the
 * worker's nbdkit in Legacy mode) to the slot's NBD device and stays in
 * NBD_DO_IT (foreground, no netlink) until the device is disconnected. */
#pragma once

#include "common/config.h"
#include "worker/child.h"

Child *nbd_client_spawn(const struct vm_slot_config *slot, gboolean read_only,
			ChildExitFunc on_exit, gpointer user_data, GError **error);

/* After a failed connection: the most specific errno we can find, from the
 * socket itself (ENOENT, ECONNREFUSED, ...) or from what nbd-client printed. */
int nbd_client_diagnose(Child *c, const char *socket_path);

/* The errno whose strerror() text appears in text, or 0. */
int vm_errno_from_text(const char *text);
