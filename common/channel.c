/* SPDX-License-Identifier: Apache-2.0 */
/* Message channel on the GLib main loop: see channel.h. */
#include "common/channel.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct _VmChannel {
	int fd;
	guint watch;
	char *peer;
	VmChannelMessageFunc on_message;
	VmChannelClosedFunc on_closed;
	gpointer user_data;
	gboolean dispatching; /* a callback is running: defer the free */
	gboolean free_pending;
};

static void channel_close(VmChannel *ch)
{
	if (ch->watch)
		g_source_remove(ch->watch);
	ch->watch = 0;
	if (ch->fd >= 0)
		close(ch->fd);
	ch->fd = -1;
}

static void channel_destroy(VmChannel *ch)
{
	channel_close(ch);
	g_free(ch->peer);
	g_free(ch);
}

void vm_channel_free(VmChannel *ch)
{
	if (!ch)
		return;
	if (ch->dispatching) {
		channel_close(ch);
		ch->free_pending = TRUE;
		return;
	}
	channel_destroy(ch);
}

gboolean vm_channel_is_open(VmChannel *ch)
{
	return ch && ch->fd >= 0;
}

void vm_channel_hang_up(VmChannel *ch)
{
	if (vm_channel_is_open(ch))
		shutdown(ch->fd, SHUT_WR);
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer data)
{
	VmChannel *ch = data;
	struct vm_msg m;
	int r;

	r = vm_msg_recv(fd, &m);
	if (r == -EAGAIN)
		return G_SOURCE_CONTINUE;

	ch->dispatching = TRUE;
	if (r < 0) {
		if (r != -ECONNRESET)
			g_warning("channel to %s: %s", ch->peer, g_strerror(-r));
		ch->watch = 0; /* returning G_SOURCE_REMOVE below removes it */
		if (ch->fd >= 0)
			close(ch->fd);
		ch->fd = -1;
		ch->on_closed(ch, r, ch->user_data);
	} else {
		ch->on_message(ch, &m, ch->user_data);
		vm_msg_clear(&m);
	}
	ch->dispatching = FALSE;

	if (ch->free_pending) {
		ch->watch = 0;
		channel_destroy(ch);
		return G_SOURCE_REMOVE;
	}
	return ch->fd >= 0 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

VmChannel *vm_channel_new(int fd, const char *peer, VmChannelMessageFunc on_message,
			  VmChannelClosedFunc on_closed, gpointer user_data)
{
	VmChannel *ch = g_new0(VmChannel, 1);

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	ch->fd = fd;
	ch->peer = g_strdup(peer);
	ch->on_message = on_message;
	ch->on_closed = on_closed;
	ch->user_data = user_data;
	ch->watch = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_readable, ch);
	return ch;
}

int vm_channel_send(VmChannel *ch, const struct vm_msg *m)
{
	int r;

	if (!vm_channel_is_open(ch))
		return -ENOTCONN;
	r = vm_msg_send(ch->fd, m);
	if (r < 0)
		g_warning("channel to %s: cannot send %s: %s", ch->peer,
			  vm_msg_type_to_str(m->type), g_strerror(-r));
	return r;
}
