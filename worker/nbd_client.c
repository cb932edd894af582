/* nbd-client for a Proxy slot: see nbd_client.h. */
#include "worker/nbd_client.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define STDERR_KEEP 2048 /* bytes of nbd-client's output kept for the diagnosis */

struct _NbdClient {
	GSubprocess *proc;
	GDataInputStream *err;
	GCancellable *cancel;
	GString *output;
	char *slot;
	gboolean exited;
	NbdClientExitFunc on_exit;
	gpointer user_data;
};

static void on_line(GObject *src, GAsyncResult *res, gpointer data)
{
	NbdClient *c = data;
	g_autoptr(GError) error = NULL;
	g_autofree char *line = g_data_input_stream_read_line_finish(G_DATA_INPUT_STREAM(src), res,
								   NULL, &error);
	if (!line)
		return; /* EOF, or cancelled by nbd_client_free (c may be gone) */
	g_message("%s: nbd-client: %s", c->slot, line);
	if (c->output->len < STDERR_KEEP)
		g_string_append_printf(c->output, "%s\n", line);
	g_data_input_stream_read_line_async(c->err, G_PRIORITY_DEFAULT, c->cancel, on_line, c);
}

static void on_wait(GObject *src, GAsyncResult *res, gpointer data)
{
	NbdClient *c = data;
	GSubprocess *proc = G_SUBPROCESS(src);
	int code;

	if (!g_subprocess_wait_finish(proc, res, NULL))
		return; /* cancelled: c is gone */
	code = g_subprocess_get_if_signaled(proc) ? 128 + g_subprocess_get_term_sig(proc)
						  : g_subprocess_get_exit_status(proc);
	c->exited = TRUE;
	c->on_exit(code, c->user_data);
}

NbdClient *nbd_client_spawn(const struct vm_slot_config *slot, NbdClientExitFunc on_exit,
			    gpointer user_data, GError **error)
{
	g_autoptr(NbdClient) c = g_new0(NbdClient, 1);
	g_autofree char *timeout = g_strdup_printf("%u", slot->timeout);
	g_autofree char *bs = g_strdup_printf("%u", slot->block_size);
	g_autoptr(GSubprocessLauncher) l =
		g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE |
					  G_SUBPROCESS_FLAGS_STDERR_MERGE);

	c->slot = g_strdup(slot->name);
	c->on_exit = on_exit;
	c->user_data = user_data;
	c->output = g_string_new(NULL);
	c->cancel = g_cancellable_new();

	/* -n: stay in the foreground, so its exit means the device is gone;
	 * -L: ioctl mode: with netlink, nbd-client 3.24 exits right after setup. */
	c->proc = g_subprocess_launcher_spawn(l, error, "nbd-client", "-N", "", "-b", bs,
					      "-t", timeout, "-n", "-L", "-u", slot->unix_socket,
					      slot->nbd_device, NULL);
	if (!c->proc)
		return NULL;
	g_message("%s: started nbd-client (pid %s) on %s for %s", slot->name,
		  g_subprocess_get_identifier(c->proc), slot->nbd_device, slot->unix_socket);

	/* stderr merged into the stdout pipe: one stream to log and diagnose */
	c->err = g_data_input_stream_new(g_subprocess_get_stdout_pipe(c->proc));
	g_data_input_stream_read_line_async(c->err, G_PRIORITY_DEFAULT, c->cancel, on_line, c);
	g_subprocess_wait_async(c->proc, c->cancel, on_wait, c);
	return g_steal_pointer(&c);
}

void nbd_client_kill(NbdClient *c, int sig)
{
	if (c && c->proc && !c->exited)
		g_subprocess_send_signal(c->proc, sig);
}

void nbd_client_free(NbdClient *c)
{
	if (!c)
		return;
	g_cancellable_cancel(c->cancel);
	if (c->proc && !c->exited) {
		/* never leave a client behind; GLib reaps it */
		g_subprocess_force_exit(c->proc);
	}
	g_clear_object(&c->err);
	g_clear_object(&c->proc);
	g_clear_object(&c->cancel);
	if (c->output)
		g_string_free(c->output, TRUE);
	g_free(c->slot);
	g_free(c);
}

int vm_errno_from_text(const char *text)
{
	int best = 0;
	size_t best_len = 0;

	/* the longest match wins: "No such device" must not hide behind "No such device or address" */
	for (int e = 1; e < 134; e++) {
		const char *s = strerror(e);
		size_t n = strlen(s);

		if (n > best_len && strncmp(s, "Unknown error", 13) != 0 && strstr(text, s)) {
			best = e;
			best_len = n;
		}
	}
	return best;
}

/* What happens when one connects to the socket now that nbd-client has given up:
 * nbd-client itself only says "CONNECT failed", without the reason. */
static int probe_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r = 0;

	if (stat(path, &st) < 0)
		return errno;
	if (!S_ISSOCK(st.st_mode))
		return ENOTSOCK;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return errno;
	g_strlcpy(sa.sun_path, path, sizeof sa.sun_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		r = errno == EAGAIN ? 0 : errno;
	close(fd);
	return r;
}

int nbd_client_diagnose(NbdClient *c, const char *socket_path)
{
	int e = probe_socket(socket_path);

	if (e)
		return e;
	/* The socket accepts: the failure came later (handshake, device). */
	e = vm_errno_from_text(c->output->str);
	return e ? e : EPROTO;
}
