/* SPDX-License-Identifier: Apache-2.0 */
/* Legacy mount credentials: see credentials.h. */
#include "worker/credentials.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

int vm_credentials_parse(const char *buf, size_t n, struct vm_credentials *out)
{
	const char *nul1, *nul2;
	size_t ulen, plen;

	memset(out, 0, sizeof *out);
	nul1 = n ? memchr(buf, '\0', n) : NULL;
	if (!nul1)
		return -EINVAL;
	ulen = (size_t)(nul1 - buf);
	nul2 = memchr(nul1 + 1, '\0', n - ulen - 1);
	if (!nul2 || (size_t)(nul2 - buf) != n - 1)
		return -EINVAL; /* missing second field, or bytes after it */
	plen = (size_t)(nul2 - nul1 - 1);
	if (ulen > VM_CRED_FIELD_MAX || plen > VM_CRED_FIELD_MAX)
		return -EINVAL;
	if (ulen == 0)
		return plen == 0 ? 0 : -EINVAL; /* "\0\0": none; a password alone: nonsense */
	out->present = true;
	memcpy(out->user, buf, ulen);
	memcpy(out->password, nul1 + 1, plen);
	return 0;
}

void vm_credentials_wipe(struct vm_credentials *c)
{
	explicit_bzero(c, sizeof *c);
}

void vm_credentials_free(struct vm_credentials *c)
{
	if (!c)
		return;
	vm_credentials_wipe(c);
	g_free(c);
}

struct read_job {
	int fd;
	int timeout_ms;
};

static void read_job_free(gpointer p)
{
	struct read_job *j = p;
	close(j->fd);
	g_free(j);
}

static void read_thread(GTask *task, gpointer src, gpointer data, GCancellable *cancel)
{
	struct read_job *j = data;
	char buf[VM_CRED_PIPE_MAX + 1];
	gint64 deadline = g_get_monotonic_time() + (gint64)j->timeout_ms * 1000;
	struct vm_credentials *c;
	size_t n = 0;
	int e = 0;

	for (;;) {
		struct pollfd p = { .fd = j->fd, .events = POLLIN };
		int left = (int)((deadline - g_get_monotonic_time()) / 1000);
		ssize_t r;

		if (left <= 0 || poll(&p, 1, left) == 0) {
			e = ETIMEDOUT;
			break;
		}
		r = read(j->fd, buf + n, sizeof buf - n);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0) {
			e = errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == sizeof buf) {
			e = EINVAL; /* longer than two fields can be */
			break;
		}
	}
	c = g_new0(struct vm_credentials, 1);
	if (!e && vm_credentials_parse(buf, n, c) < 0)
		e = EINVAL;
	explicit_bzero(buf, sizeof buf);
	if (e) {
		vm_credentials_free(c);
		g_task_return_new_error(task, G_IO_ERROR, g_io_error_from_errno(e), "%s",
					e == EINVAL ? "the credentials are not \"user\\0password\\0\""
						    : g_strerror(e));
		return;
	}
	g_task_return_pointer(task, c, (GDestroyNotify)vm_credentials_free);
}

void vm_credentials_read_async(int fd, int timeout_ms, GCancellable *cancellable,
			       GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
	struct read_job *j = g_new0(struct read_job, 1);

	j->fd = fd;
	j->timeout_ms = timeout_ms;
	g_task_set_task_data(task, j, read_job_free);
	g_task_run_in_thread(task, read_thread);
}

struct vm_credentials *vm_credentials_read_finish(GAsyncResult *res, GError **error)
{
	return g_task_propagate_pointer(G_TASK(res), error);
}
