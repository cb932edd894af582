/* SPDX-License-Identifier: Apache-2.0 */
/* The slot's network share: see share_mount.h. */
#include "worker/share_mount.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <gio/gunixmounts.h>

#include "worker/cifs_opens.h"

/* How long an unmount waits for the kernel to finish the reads of a dead
 * nbdkit (see cifs_opens.h): below the supervisor's 25 s for a stop. */
#define DEAD_READS_LIMIT_MS 20000

char *share_mountpoint(const char *slot)
{
	return g_build_filename(VM_SHARE_RUN_DIR, slot, NULL);
}

static int prepare_mountpoint(const char *mountpoint)
{
	if (g_mkdir_with_parents(VM_SHARE_RUN_DIR, 0755) < 0 ||
	    (mkdir(mountpoint, 0700) < 0 && errno != EEXIST)) {
		int e = errno;

		g_warning("cannot make %s: %s", mountpoint, g_strerror(e));
		return e;
	}
	return 0;
}

/* getaddrinfo() here: the kernel alone cannot resolve names without the
 * dns_resolver upcall, which a BMC may not have.  The mount data carries the
 * address. */
static int resolve(const char *host, char *addr, size_t len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	int r = getaddrinfo(host, NULL, &hints, &res);

	if (r != 0)
		return r == EAI_SYSTEM ? errno : EHOSTUNREACH;
	if (res->ai_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, addr, (socklen_t)len);
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, addr, (socklen_t)len);
	freeaddrinfo(res);
	return 0;
}

int share_prepare(const char *mountpoint, const char *host, char *addr, size_t len)
{
	int e = prepare_mountpoint(mountpoint);

	if (e)
		return e;
	e = resolve(host, addr, len);
	if (e)
		g_warning("cannot resolve %s", host);
	return e;
}

int share_task_finish(GAsyncResult *res)
{
	g_autoptr(GError) error = NULL;
	gssize r = g_task_propagate_int(G_TASK(res), &error);

	return error ? ECANCELED : (int)r;
}

/* From the mount table, not stat(): that would ask the server. */
static gboolean is_smb_share(const char *mp)
{
	GUnixMountEntry *m = g_unix_mount_at(mp, NULL);
	const char *type = m ? g_unix_mount_get_fs_type(m) : NULL;
	gboolean smb = type && (g_str_equal(type, "cifs") || g_str_equal(type, "smb3"));

	if (m)
		g_unix_mount_free(m);
	return smb;
}

static void unmount_thread(GTask *task, gpointer src, gpointer data, GCancellable *cancellable)
{
	const char *mp = data;

	if (is_smb_share(mp))
		cifs_wait_for_dead_opens(mp, DEAD_READS_LIMIT_MS);

	/* No stat() first: on a share it asks the server.  Lazy, and in a thread:
	 * the last reference to a network share is dropped on the way out of
	 * umount2(), and that still talks to the server (SMB's tree disconnect and
	 * logoff), which keeps a caller waiting when the server has gone. */
	if (umount2(mp, MNT_DETACH) == 0) {
		g_message("unmounted the share on %s", mp);
		g_task_return_int(task, 0);
	} else if (errno == EINVAL || errno == ENOENT) {
		g_task_return_int(task, 0); /* nothing mounted there */
	} else {
		g_task_return_int(task, errno);
	}
}

void share_unmount_async(const char *slot, GCancellable *cancellable, GAsyncReadyCallback callback,
			 gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);

	g_task_set_task_data(task, share_mountpoint(slot), g_free);
	g_task_run_in_thread(task, unmount_thread);
}
