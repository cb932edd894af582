/* SPDX-License-Identifier: Apache-2.0 */
/* The export of an nfs:// image: see nfs_share.h. */
#include "worker/nfs_share.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/mount.h>

#include "worker/share_mount.h"

/* Retransmissions before a soft mount gives up on a request.  With timeo
 * derived from the slot's Timeout (below), an unanswered request fails after
 * about half of it: the mount ends in ETIMEDOUT well inside the supervisor's
 * watchdog (Timeout + 5 s), and a read that the server leaves unanswered
 * becomes an I/O error in nbdkit before nbd-client's own Timeout would drop
 * the whole connection.  "hard" would wait forever. */
#define NFS_RETRANS 2

/* Newest first, as mount.nfs tries them; an older one only when the server
 * says it lacks the newer (with a minor version given, the kernel does not
 * fall back by itself). */
static const char *const nfs_versions[] = { "4.2", "4.1", "4.0" };

struct mount_job {
	char *mountpoint;
	char *host;
	int port;
	char *dir;
	gboolean rw;
	unsigned timeout;
};

static void mount_job_free(gpointer p)
{
	struct mount_job *j = p;

	g_free(j->mountpoint);
	g_free(j->host);
	g_free(j->dir);
	g_free(j);
}

/* timeo= in tenths of a second: an unanswered request fails after
 * (retrans + 1) * timeo, about half the slot's Timeout (at least 3 s). */
static unsigned nfs_timeo(unsigned timeout)
{
	return CLAMP(timeout * 10 / (2 * (NFS_RETRANS + 1)), 10, 600);
}

char *nfs_mount_options(const char *vers, const char *addr, int port, unsigned timeout)
{
	unsigned timeo = nfs_timeo(timeout);
	g_autofree char *port_opt = port > 0 ? g_strdup_printf(",port=%d", port) : g_strdup("");

	/* addr=: the kernel does not resolve names; no clientaddr=: the kernel
	 * finds its own address (NFSv4.0 callbacks are only for delegations) */
	return g_strdup_printf("vers=%s,addr=%s%s,sec=sys,soft,timeo=%u,retrans=%d", vers, addr,
			       port_opt, timeo, NFS_RETRANS);
}

static int try_mount(const struct mount_job *j, const char *addr, const char *vers)
{
	/* an IPv6 address in the source is bracketed: the first ':' ends the host */
	g_autofree char *source = strchr(j->host, ':') ? g_strdup_printf("[%s]:%s", j->host, j->dir)
						       : g_strdup_printf("%s:%s", j->host, j->dir);
	g_autofree char *data = nfs_mount_options(vers, addr, j->port, j->timeout);

	if (mount(source, j->mountpoint, "nfs4",
		  MS_NOSUID | MS_NODEV | MS_NOEXEC | (j->rw ? 0 : MS_RDONLY), data) < 0)
		return errno;
	return 0;
}

/* The kernel's errno, as the Completion and the log line should say it. */
static int explain(const struct mount_job *j, const char *addr, int e)
{
	switch (e) {
	case ENOENT:
	case EACCES:
	case EPERM:
		/* an NFSv4 server shows a client only the paths it exports to it:
		 * "not exported to us" and "no such directory" look the same */
		g_warning("%s (%s) exports no %s to this BMC, or refuses it: %s", j->host, addr,
			  j->dir, g_strerror(e));
		return EACCES;
	case EIO:
	case ETIMEDOUT:
		/* what a soft mount says when its retransmissions went unanswered */
		g_warning("%s (%s) did not answer within %u s", j->host, addr,
			  (NFS_RETRANS + 1) * nfs_timeo(j->timeout) / 10);
		return ETIMEDOUT;
	default:
		g_warning("cannot mount %s:%s (%s): %s", j->host, j->dir, addr, g_strerror(e));
		return e;
	}
}

static void mount_thread(GTask *task, gpointer src, gpointer data, GCancellable *c)
{
	struct mount_job *j = data;
	char addr[INET6_ADDRSTRLEN] = "";
	const char *vers = NULL;
	int e;

	e = share_prepare(j->mountpoint, j->host, addr, sizeof addr);
	if (e) {
		g_task_return_int(task, e);
		return;
	}
	for (size_t i = 0; i < G_N_ELEMENTS(nfs_versions); i++) {
		vers = nfs_versions[i];
		e = try_mount(j, addr, vers);
		if (e != EPROTONOSUPPORT)
			break;
	}
	if (e) {
		g_task_return_int(task, explain(j, addr, e));
		return;
	}
	g_message("mounted %s:%s (%s) on %s with NFS %s, %s", j->host, j->dir, addr, j->mountpoint,
		  vers, j->rw ? "read-write" : "read-only");
	g_task_return_int(task, 0);
}

void nfs_share_mount_async(const char *slot, const char *host, int port, const char *dir,
			   gboolean rw, unsigned timeout, GCancellable *cancellable,
			   GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
	struct mount_job *j = g_new0(struct mount_job, 1);

	j->mountpoint = share_mountpoint(slot);
	j->host = g_strdup(host);
	j->port = port;
	j->dir = g_strdup(dir);
	j->rw = rw;
	j->timeout = timeout;
	g_task_set_task_data(task, j, mount_job_free);
	g_task_run_in_thread(task, mount_thread);
}
