/* SPDX-License-Identifier: Apache-2.0 */
/* The worker's link to its gadget-helper: see helper_link.h. */
#include "worker/helper_link.h"

#include <errno.h>
#include <gio/gio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/channel.h"
#include "common/paths.h"

struct _HelperLink {
	char *config_path;
	char *program;
	GSubprocess *proc;
	VmChannel *ch;
	guint replies_to_skip; /* the HELLO's */
	guint generation;
	HelperReplyFunc cb;
	gpointer user_data;
	GFunc lost;
	gpointer lost_data;
};

static void complete(HelperLink *h, int error, const char *udc)
{
	HelperReplyFunc cb = h->cb;

	h->cb = NULL;
	if (cb)
		cb(error, udc, h->user_data);
}

static void on_channel_message(VmChannel *ch, struct vm_msg *m, gpointer data)
{
	HelperLink *h = data;
	struct vm_cursor c;
	int32_t error;
	const char *udc;

	vm_cursor_init(&c, m);
	error = vm_cursor_i32(&c);
	udc = vm_cursor_str(&c);
	if (m->type != VM_MSG_GADGET_RESULT || !vm_cursor_end(&c) || error < 0) {
		g_warning("gadget-helper sent a malformed %s", vm_msg_type_to_str(m->type));
		vm_channel_free(h->ch);
		h->ch = NULL;
		complete(h, EPROTO, "");
		return;
	}
	if (h->replies_to_skip > 0) {
		h->replies_to_skip--;
		if (error)
			g_warning("gadget-helper refused our hello: %s", g_strerror(error));
		return;
	}
	complete(h, error, udc);
}

static void on_closed(VmChannel *ch, int error, gpointer data)
{
	HelperLink *h = data;
	gboolean idle = !h->cb;

	g_warning("gadget-helper has gone%s", idle ? "" : " during a request");
	vm_channel_free(h->ch);
	h->ch = NULL;
	complete(h, ECONNRESET, "");
	if (idle && h->lost)
		h->lost(h, h->lost_data);
}

static int helper_start(HelperLink *h)
{
	g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
	g_autoptr(GError) error = NULL;
	struct vm_msg hello;
	int sv[2];

	if (h->proc) {
		/* the previous helper has gone: reap it in the background */
		g_subprocess_force_exit(h->proc);
		g_clear_object(&h->proc);
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	g_subprocess_launcher_take_fd(l, sv[1], 3);
	h->proc = g_subprocess_launcher_spawn(l, &error, h->program, "--config", h->config_path,
					      NULL);
	if (!h->proc) {
		g_warning("cannot start %s: %s", h->program, error->message);
		close(sv[0]);
		return -ENOEXEC;
	}
	h->generation++;
	h->ch = vm_channel_new(sv[0], "gadget-helper", on_channel_message, on_closed, h);
	vm_msg_init(&hello, VM_MSG_HELLO);
	vm_msg_put_u32(&hello, VM_MSG_VERSION);
	h->replies_to_skip = 1;
	return vm_channel_send(h->ch, &hello);
}

HelperLink *helper_link_new(const char *config_path)
{
	HelperLink *h = g_new0(HelperLink, 1);

	h->config_path = g_strdup(config_path);
	h->program = vm_find_program("vmedia-gadget-helper");
	return h;
}

void helper_link_free(HelperLink *h)
{
	if (!h)
		return;
	vm_channel_free(h->ch); /* EOF: the helper exits */
	if (h->proc)
		g_subprocess_wait(h->proc, NULL, NULL);
	g_clear_object(&h->proc);
	g_free(h->config_path);
	g_free(h->program);
	g_free(h);
}

guint helper_link_generation(HelperLink *h)
{
	return h->generation + !vm_channel_is_open(h->ch); /* the next request starts a new one */
}

void helper_link_set_lost_func(HelperLink *h, GFunc lost, gpointer user_data)
{
	h->lost = lost;
	h->lost_data = user_data;
}

static gboolean fail_later(gpointer data)
{
	HelperLink *h = data;
	complete(h, EIO, "");
	return G_SOURCE_REMOVE;
}

void helper_link_prestart(HelperLink *h)
{
	if (!vm_channel_is_open(h->ch))
		helper_start(h); /* a failure is the first request's to report */
}

void helper_link_request(HelperLink *h, const struct vm_msg *req, HelperReplyFunc cb,
			 gpointer user_data)
{
	g_assert(!h->cb);
	h->cb = cb;
	h->user_data = user_data;
	if ((!vm_channel_is_open(h->ch) && helper_start(h) < 0) ||
	    vm_channel_send(h->ch, req) < 0)
		g_idle_add(fail_later, h); /* the caller expects its callback later, not now */
}
