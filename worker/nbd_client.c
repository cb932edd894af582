/* SPDX-License-Identifier: Apache-2.0 */
/* nbd-client: see nbd_client.h. */
#include "worker/nbd_client.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

Child *nbd_client_spawn(const struct vm_slot_config *slot, gboolean read_only,
			ChildExitFunc on_exit, gpointer user_data, GError **error)
{
	g_autofree char *timeout = g_strdup_printf("%u", slot->timeout);
	g_autofree char *bs = g_strdup_printf("%u", slot->block_size);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	Child *c;

	/* -n: stay in the foreground, so its exit means the device is gone;
	 * -L: ioctl mode: with netlink, nbd-client 3.24 exits right after setup;
	 * -N: an export name.  Without one (or with "") nbd-client 3.24 prints a
	 * warning about the oldstyle protocol on every connection.  Our servers
	 * ignore the name: jsnbd answers any NBD_OPT_EXPORT_NAME with its file,
	 * nbdkit's file and curl plugins serve their one image under any name. */
	const char *fixed[] = { "nbd-client", "-b", bs, "-t", timeout, "-n", "-L",
				"-N", slot->name };

	for (guint i = 0; i < G_N_ELEMENTS(fixed); i++)
		g_ptr_array_add(argv, (char *)fixed[i]);
	if (read_only)
		g_ptr_array_add(argv, "-R");
	g_ptr_array_add(argv, "-u");
	g_ptr_array_add(argv, (char *)slot->unix_socket);
	g_ptr_array_add(argv, (char *)slot->nbd_device);
	g_ptr_array_add(argv, NULL);
	c = child_spawn(slot->name, (const char *const *)argv->pdata, CHILD_KEEP_CAPS, -1, NULL, 0,
			on_exit, user_data, error);

	if (c)
		g_message("%s: started nbd-client (pid %s) on %s for %s", slot->name, child_pid(c),
			  slot->nbd_device, slot->unix_socket);
	return c;
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

int nbd_client_diagnose(Child *c, const char *socket_path)
{
	int e = probe_socket(socket_path);

	if (e)
		return e;
	/* The socket accepts: the failure came later (handshake, device). */
	e = vm_errno_from_text(child_output(c));
	return e ? e : EPROTO;
}
