/* The slot's network share: see share_mount.h. */
#include "worker/share_mount.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <sys/mount.h>
#include <sys/stat.h>

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

int share_mount_finish(GAsyncResult *res)
{
	g_autoptr(GError) error = NULL;
	gssize r = g_task_propagate_int(G_TASK(res), &error);

	return error ? ECANCELED : (int)r;
}

static gboolean is_mountpoint(const char *path)
{
	struct stat st, parent;
	g_autofree char *up = g_path_get_dirname(path);

	return stat(path, &st) == 0 && stat(up, &parent) == 0 && st.st_dev != parent.st_dev;
}

int share_unmount(const char *slot)
{
	g_autofree char *mp = share_mountpoint(slot);

	if (!is_mountpoint(mp))
		return 0;
	/* lazy: a share whose server has gone must not hang the worker */
	if (umount2(mp, MNT_DETACH) < 0)
		return -errno;
	g_message("%s: unmounted the share on %s", slot, mp);
	return 0;
}
