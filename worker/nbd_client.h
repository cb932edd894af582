/* nbd-client, run for a Proxy slot: it connects the web server's Unix socket
 * to the slot's NBD device and stays in NBD_DO_IT (foreground, no netlink)
 * until the device is disconnected. */
#pragma once

#include <gio/gio.h>

#include "common/config.h"

typedef struct _NbdClient NbdClient;

/* Called once when the process has exited: exit_code is its exit status, or
 * 128 + N when killed by signal N. */
typedef void (*NbdClientExitFunc)(int exit_code, gpointer user_data);

NbdClient *nbd_client_spawn(const struct vm_slot_config *slot, NbdClientExitFunc on_exit,
			    gpointer user_data, GError **error);
/* Sends a signal if the process is still running. */
void nbd_client_kill(NbdClient *c, int sig);
/* Frees; the process, if still running, is killed and reaped in the background. */
void nbd_client_free(NbdClient *c);

/* After a failed connection: the most specific errno we can find, from the
 * socket itself (ENOENT, ECONNREFUSED, ...) or from what nbd-client printed. */
int nbd_client_diagnose(NbdClient *c, const char *socket_path);

/* The errno whose strerror() text appears in text, or 0. */
int vm_errno_from_text(const char *text);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(NbdClient, nbd_client_free)
