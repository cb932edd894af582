/* SPDX-License-Identifier: Apache-2.0 */
/* The share of an smb:// image: see smb_share.h. */
#include "worker/smb_share.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/mount.h>

#include "worker/share_mount.h"

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

static int try_mount(const struct mount_job *j, const char *addr, const char *vers)
{
	g_autofree char *source = g_strdup_printf("//%s/%s", j->host, j->share);
	g_autofree char *user = j->creds.present ? smb_escape_option(j->creds.user) : NULL;
	g_autofree char *password = j->creds.present ? smb_escape_option(j->creds.password) : NULL;
	g_autofree char *port = j->port > 0 ? g_strdup_printf(",port=%d", j->port) : g_strdup("");
	char *data;
	int r;

	/* seal: encryption required; the kernel refuses the mount rather than go without.
	 * cache=none, nohandlecache, closetimeo=0, nolease: no page cache (and no
	 * read-ahead in flight), no cached directory handles, no deferred close,
	 * no leases: the less kernel work holds the image after nbdkit has closed
	 * it, the safer the unmount (see cifs_opens.h for what remains).  The
	 * BMC's page cache of /dev/nbdN caches the image anyway. */
	if (j->creds.present)
		data = g_strdup_printf("ip=%s,unc=\\\\%s\\%s,vers=%s,seal,sec=ntlmssp,username=%s,password=%s,"
				       "noperm,cache=none,nohandlecache,closetimeo=0,nolease%s",
				       addr, j->host, j->share, vers, user, password, port);
	else
		data = g_strdup_printf("ip=%s,unc=\\\\%s\\%s,vers=%s,seal,guest,noperm,cache=none,"
				       "nohandlecache,closetimeo=0,nolease%s", addr, j->host, j->share, vers, port);
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

	e = share_prepare(j->mountpoint, j->host, addr, sizeof addr);
	if (e) {
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

	j->mountpoint = share_mountpoint(slot);
	j->host = g_strdup(host);
	j->port = port;
	j->share = g_strdup(share);
	if (creds)
		j->creds = *creds;
	j->rw = rw;
	g_task_set_task_data(task, j, mount_job_free);
	g_task_run_in_thread(task, mount_thread);
}
