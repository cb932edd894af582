/* The share of an smb:// image: see smb_share.h. */
#include "worker/smb_share.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

struct mount_job {
	char *mountpoint;
	char *host;
	int port;
	char *share;
	struct vm_credentials creds;
	gboolean rw;
};

static void mount_job_free(gpointer p)
{
	struct mount_job *j = p;

	vm_credentials_wipe(&j->creds);
	g_free(j->mountpoint);
	g_free(j->host);
	g_free(j->share);
	g_free(j);
}

char *smb_share_mountpoint(const char *slot)
{
	return g_build_filename(VM_SHARE_RUN_DIR, slot, NULL);
}

char *smb_escape_option(const char *value)
{
	GString *s = g_string_new(NULL);

	for (; *value; value++) {
		if (*value == ',')
			g_string_append_c(s, ',');
		g_string_append_c(s, *value);
	}
	return g_string_free(s, FALSE);
}

static gboolean is_mountpoint(const char *path)
{
	struct stat st, parent;
	g_autofree char *up = g_path_get_dirname(path);

	return stat(path, &st) == 0 && stat(up, &parent) == 0 && st.st_dev != parent.st_dev;
}

/* getaddrinfo() here: the kernel alone cannot resolve names without the
 * dns_resolver upcall, which a BMC may not have.  ip= carries the address. */
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

static int try_mount(const struct mount_job *j, const char *addr, const char *vers)
{
	g_autofree char *source = g_strdup_printf("//%s/%s", j->host, j->share);
	g_autofree char *user = j->creds.present ? smb_escape_option(j->creds.user) : NULL;
	g_autofree char *password = j->creds.present ? smb_escape_option(j->creds.password) : NULL;
	g_autofree char *port = j->port > 0 ? g_strdup_printf(",port=%d", j->port) : g_strdup("");
	char *data;
	int r;

	/* seal: encryption required; the kernel refuses the mount rather than go without */
	if (j->creds.present)
		data = g_strdup_printf("ip=%s,unc=\\\\%s\\%s,vers=%s,seal,sec=ntlmssp,username=%s,password=%s,"
				       "noperm,cache=strict%s",
				       addr, j->host, j->share, vers, user, password, port);
	else
		data = g_strdup_printf("ip=%s,unc=\\\\%s\\%s,vers=%s,seal,guest,noperm,cache=strict%s", addr,
				       j->host, j->share, vers, port);
	r = mount(source, j->mountpoint, "cifs",
		  MS_NOSUID | MS_NODEV | MS_NOEXEC | (j->rw ? 0 : MS_RDONLY), data);
	r = r < 0 ? errno : 0;
	explicit_bzero(data, strlen(data));
	g_free(data);
	if (password)
		explicit_bzero(password, strlen(password));
	return r;
}

static void mount_thread(GTask *task, gpointer src, gpointer data, GCancellable *c)
{
	struct mount_job *j = data;
	char addr[INET6_ADDRSTRLEN] = "";
	const char *vers = "3.1.1";
	int e;

	if (g_mkdir_with_parents(VM_SHARE_RUN_DIR, 0755) < 0 ||
	    (mkdir(j->mountpoint, 0700) < 0 && errno != EEXIST)) {
		e = errno;
		g_warning("cannot make %s: %s", j->mountpoint, g_strerror(e));
		g_task_return_int(task, e);
		return;
	}
	e = resolve(j->host, addr, sizeof addr);
	if (e) {
		g_warning("cannot resolve %s", j->host);
		g_task_return_int(task, e);
		return;
	}
	e = try_mount(j, addr, vers);
	if (e == EOPNOTSUPP || e == EPROTONOSUPPORT) {
		vers = "3.0"; /* SMB 3.0 still encrypts; older dialects cannot */
		e = try_mount(j, addr, vers);
	}
	if (e == EINVAL && !j->creds.present) {
		/* a guest session cannot be encrypted: the server wants a user */
		g_warning("cannot mount //%s/%s as a guest with encryption: credentials are needed",
			  j->host, j->share);
		e = EACCES;
	} else if (e) {
		g_warning("cannot mount //%s/%s (SMB %s, encrypted): %s", j->host, j->share, vers,
			  g_strerror(e));
	}
	if (e) {
		g_task_return_int(task, e);
		return;
	}
	g_message("mounted //%s/%s (%s) on %s with SMB %s, encrypted, %s", j->host, j->share, addr,
		  j->mountpoint, vers, j->rw ? "read-write" : "read-only");
	g_task_return_int(task, 0);
}

void smb_share_mount_async(const char *slot, const char *host, int port, const char *share,
			   const struct vm_credentials *creds, gboolean rw, GCancellable *cancellable,
			   GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
	struct mount_job *j = g_new0(struct mount_job, 1);

	j->mountpoint = smb_share_mountpoint(slot);
	j->host = g_strdup(host);
	j->port = port;
	j->share = g_strdup(share);
	if (creds)
		j->creds = *creds;
	j->rw = rw;
	g_task_set_task_data(task, j, mount_job_free);
	g_task_run_in_thread(task, mount_thread);
}

int smb_share_mount_finish(GAsyncResult *res)
{
	g_autoptr(GError) error = NULL;
	gssize r = g_task_propagate_int(G_TASK(res), &error);

	return error ? ECANCELED : (int)r;
}

int smb_share_unmount(const char *slot)
{
	g_autofree char *mp = smb_share_mountpoint(slot);

	if (!is_mountpoint(mp))
		return 0;
	/* lazy: a share whose server has gone must not hang the worker */
	if (umount2(mp, MNT_DETACH) < 0)
		return -errno;
	g_message("%s: unmounted the share on %s", slot, mp);
	return 0;
}
