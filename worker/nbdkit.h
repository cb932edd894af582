/* SPDX-License-Identifier: Apache-2.0 */
/* nbdkit, run for a Legacy slot: serves the remote image on the slot's Unix
 * socket, for nbd-client to attach. */
#pragma once

#include "common/config.h"
#include "common/image_url.h"
#include "worker/child.h"
#include "worker/credentials.h"

typedef struct _Nbdkit Nbdkit;

/* Called once nbdkit listens on the socket (it has written its pid file). */
typedef void (*NbdkitReadyFunc)(gpointer user_data);

/* An https:// (or, where allowed, http://) image through the curl plugin.
 * The password reaches nbdkit through a pipe on its fd 3, never argv. */
Nbdkit *nbdkit_spawn_curl(const struct vm_slot_config *slot, const char *url,
			  const struct vm_credentials *creds, NbdkitReadyFunc on_ready,
			  ChildExitFunc on_exit, gpointer user_data, GError **error);
/* A file (on a share the worker has mounted) through the file plugin. */
Nbdkit *nbdkit_spawn_file(const struct vm_slot_config *slot, const char *path, gboolean read_only,
			  NbdkitReadyFunc on_ready, ChildExitFunc on_exit, gpointer user_data,
			  GError **error);
Child *nbdkit_child(Nbdkit *k);
/* What a killed predecessor's nbdkit left for this slot: its socket and its
 * private directory (with the pid file). */
void nbdkit_remove_stale(const struct vm_slot_config *slot);
void nbdkit_free(Nbdkit *k);

/* The errno that nbdkit's messages point at (a curl error, an HTTP status), or 0. */
int nbdkit_diagnose(Nbdkit *k);
int vm_errno_from_curl_text(const char *text);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Nbdkit, nbdkit_free)
