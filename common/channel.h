/* SPDX-License-Identifier: Apache-2.0 */
/* A message channel on a socketpair, driven by the GLib main loop: the
 * supervisor's end towards a worker, and the worker's ends towards the
 * supervisor and the gadget-helper.  (Not linked into the gadget-helper.) */
#pragma once

#include <glib.h>

#include "common/msg.h"

typedef struct _VmChannel VmChannel;

/* Called for each message received; m->fd (if any) may be stolen by setting it
 * to -1, else it is closed after the call. */
typedef void (*VmChannelMessageFunc)(VmChannel *ch, struct vm_msg *m, gpointer user_data);
/* Called once when the peer has gone or sent something malformed (error is a
 * negative errno); no message callback follows. */
typedef void (*VmChannelClosedFunc)(VmChannel *ch, int error, gpointer user_data);

/* Takes ownership of fd (made non-blocking and close-on-exec). */
VmChannel *vm_channel_new(int fd, const char *peer, VmChannelMessageFunc on_message,
			  VmChannelClosedFunc on_closed, gpointer user_data);
/* Stops watching and closes the fd; safe to call from the channel's own callbacks. */
void vm_channel_free(VmChannel *ch);
/* 0 or a negative errno (logged). */
int vm_channel_send(VmChannel *ch, const struct vm_msg *m);
gboolean vm_channel_is_open(VmChannel *ch);
/* Tells the peer that we are done (it reads end-of-file) but keeps listening:
 * its last messages arrive, then on_closed when it closes its end. */
void vm_channel_hang_up(VmChannel *ch);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmChannel, vm_channel_free)
