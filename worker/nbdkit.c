/* SPDX-License-Identifier: Apache-2.0 */
/* nbdkit for a Legacy slot: see nbdkit.h. */
#include "worker/nbdkit.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "worker/nbd_client.h"
#include "worker/sandbox.h"

/* retry-request: one failed or slow reply is retried instead of becoming an
 * I/O error on the host; not the first request (the size), so that a wrong
 * URL fails at once.  (readahead would make sequential reads fewer and larger,
 * but nbdkit 1.32's curl plugin serializes requests and the filter says it
 * does nothing there.) */
#define RETRIES "5"
#define RUNDIR_PREFIX "vmedia-nbdkit-"
#define RETRY_DELAY "2"

struct _Nbdkit {
	Child *child;
	char *socket;
	char *rundir;   /* private: the pid file */
	char *pidfile;
	GFileMonitor *monitor;
	NbdkitReadyFunc on_ready;
	gpointer user_data;
	gboolean ready;
};

static void on_pidfile(GFileMonitor *m, GFile *f, GFile *other, GFileMonitorEvent ev, gpointer data)
{
	Nbdkit *k = data;

	/* nbdkit writes its pid file once the socket listens */
	if (k->ready || (ev != G_FILE_MONITOR_EVENT_CHANGES_DONE_HINT &&
			 ev != G_FILE_MONITOR_EVENT_CREATED))
		return;
	if (!g_file_test(k->pidfile, G_FILE_TEST_EXISTS))
		return;
	k->ready = TRUE;
	g_file_monitor_cancel(k->monitor);
	k->on_ready(k->user_data);
}

/* nbdkit leaves its socket behind and will not bind over it: the slot's
 * socket path is the worker's in Legacy mode, so an old socket there is ours. */
static gboolean remove_stale_socket(const char *path, GError **error)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return TRUE;
	if (!S_ISSOCK(st.st_mode)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "%s exists and is no socket", path);
		return FALSE;
	}
	g_unlink(path);
	return TRUE;
}

/* nbdkit serving PLUGIN with its args on the slot's socket; fd (or -1)
 * becomes its fd 3; image (or NULL) is the local file it serves, the only one
 * its sandbox lets it open besides the system's. */
static Nbdkit *nbdkit_spawn(const struct vm_slot_config *slot, gboolean read_only,
			    GPtrArray *plugin_args, const char *image, int fd,
			    NbdkitReadyFunc on_ready, ChildExitFunc on_exit, gpointer user_data,
			    GError **error)
{
	g_autoptr(Nbdkit) k = g_new0(Nbdkit, 1);
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GFile) file = NULL;
	g_autofree char *template = NULL;

	k->on_ready = on_ready;
	k->user_data = user_data;
	if (!remove_stale_socket(slot->unix_socket, error))
		goto fail;
	k->socket = g_strdup(slot->unix_socket);
	/* named after the slot, so that a successor finds what a killed worker left */
	template = g_strdup_printf(RUNDIR_PREFIX "%s-XXXXXX", slot->name);
	k->rundir = g_dir_make_tmp(template, error);
	if (!k->rundir)
		goto fail;
	k->pidfile = g_build_filename(k->rundir, "nbdkit.pid", NULL);
	file = g_file_new_for_path(k->pidfile);
	k->monitor = g_file_monitor_file(file, G_FILE_MONITOR_NONE, NULL, error);
	if (!k->monitor)
		goto fail;
	g_signal_connect(k->monitor, "changed", G_CALLBACK(on_pidfile), k);

	g_ptr_array_add(argv, g_strdup("nbdkit"));
	g_ptr_array_add(argv, g_strdup("--foreground"));
	g_ptr_array_add(argv, g_strdup("--exit-with-parent"));
	if (read_only)
		g_ptr_array_add(argv, g_strdup("--readonly"));
	g_ptr_array_add(argv, g_strdup_printf("--unix=%s", slot->unix_socket));
	g_ptr_array_add(argv, g_strdup_printf("--pidfile=%s", k->pidfile));
	for (guint i = 0; i < plugin_args->len; i++)
		g_ptr_array_add(argv, g_strdup(g_ptr_array_index(plugin_args, i)));
	g_ptr_array_add(argv, NULL);

	k->child = child_spawn(slot->name, (const char *const *)argv->pdata, CHILD_NO_CAPS,
			       sandbox_nbdkit(slot, k->rundir, image, !read_only), &fd,
			       fd >= 0 ? 1 : 0, on_exit, user_data, error);
	fd = -1; /* taken */
	if (!k->child)
		return NULL;
	g_message("%s: started nbdkit (pid %s) on %s", slot->name, child_pid(k->child),
		  slot->unix_socket);
	return g_steal_pointer(&k);
fail:
	if (fd >= 0)
		close(fd);
	return NULL;
}

Nbdkit *nbdkit_spawn_curl(const struct vm_slot_config *slot, const char *url,
			  const struct vm_credentials *creds, NbdkitReadyFunc on_ready,
			  ChildExitFunc on_exit, gpointer user_data, GError **error)
{
	g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
	gboolean https = g_str_has_prefix(url, "https:");
	int fd = -1;

#define ARG(...) g_ptr_array_add(args, g_strdup_printf(__VA_ARGS__))
	ARG("--filter=retry-request");
	ARG("curl");
	ARG("url=%s", url);
	ARG("protocols=%s", https ? "https" : "http");
	ARG("followlocation=%s", slot->allow_redirects ? "true" : "false");
	ARG("timeout=%u", slot->timeout);
	if (https) {
		ARG("sslverify=true");
		ARG("ssl-version=tlsv1.2"); /* TLS 1.2 or later */
		if (slot->ca_file[0])
			ARG("cainfo=%s", slot->ca_file);
		if (slot->ca_path[0])
			ARG("capath=%s", slot->ca_path);
	}
	ARG("retry-request-retries=" RETRIES);
	ARG("retry-request-delay=" RETRY_DELAY);
	ARG("retry-request-open=false");
	if (creds && creds->present) {
		int p[2];

		ARG("user=%s", creds->user);
		if (pipe2(p, O_CLOEXEC) < 0) {
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "pipe: %s",
				    g_strerror(errno));
			return NULL;
		}
		/* at most 512 bytes: the pipe's buffer takes them without blocking */
		if (write(p[1], creds->password, strlen(creds->password)) < 0) {
			close(p[0]);
			close(p[1]);
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot pass the password");
			return NULL;
		}
		close(p[1]);
		fd = p[0];
		ARG("password=-3");
	}
#undef ARG
	return nbdkit_spawn(slot, TRUE /* https images are read-only */, args, NULL, fd, on_ready,
			    on_exit, user_data, error);
}

Nbdkit *nbdkit_spawn_file(const struct vm_slot_config *slot, const char *path, gboolean read_only,
			  NbdkitReadyFunc on_ready, ChildExitFunc on_exit, gpointer user_data,
			  GError **error)
{
	g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);

	g_ptr_array_add(args, g_strdup("file"));
	g_ptr_array_add(args, g_strdup_printf("file=%s", path));
	return nbdkit_spawn(slot, read_only, args, path, -1, on_ready, on_exit, user_data, error);
}

Child *nbdkit_child(Nbdkit *k)
{
	return k->child;
}

void nbdkit_remove_stale(const struct vm_slot_config *slot)
{
	g_autofree char *prefix = g_strdup_printf(RUNDIR_PREFIX "%s-", slot->name);
	g_autoptr(GDir) dir = g_dir_open(g_get_tmp_dir(), 0, NULL);
	const char *name;

	remove_stale_socket(slot->unix_socket, NULL);
	while (dir && (name = g_dir_read_name(dir))) {
		g_autofree char *path = NULL, *pidfile = NULL;

		/* the slot name is [A-Za-z0-9_]: "Slot_1-" is no prefix of "Slot_10-" */
		if (!g_str_has_prefix(name, prefix) || strlen(name) != strlen(prefix) + 6)
			continue;
		path = g_build_filename(g_get_tmp_dir(), name, NULL);
		pidfile = g_build_filename(path, "nbdkit.pid", NULL);
		g_unlink(pidfile);
		if (g_rmdir(path) == 0)
			g_message("%s: removed %s, left by a previous nbdkit", slot->name, path);
	}
}

void nbdkit_free(Nbdkit *k)
{
	if (!k)
		return;
	if (k->monitor)
		g_file_monitor_cancel(k->monitor);
	g_clear_object(&k->monitor);
	g_clear_pointer(&k->child, child_free);
	if (k->socket)
		remove_stale_socket(k->socket, NULL);
	g_free(k->socket);
	if (k->pidfile)
		g_unlink(k->pidfile);
	if (k->rundir)
		g_rmdir(k->rundir);
	g_free(k->pidfile);
	g_free(k->rundir);
	g_free(k);
}

/* curl's and nbdkit's words for what went wrong, most specific first. */
static const struct {
	const char *text;
	int error;
} curl_errors[] = {
	{ "returned error: 404", ENOENT },
	{ "returned error: 410", ENOENT },
	{ "returned error: 401", EACCES },
	{ "returned error: 403", EACCES },
	{ "resolve host", EHOSTUNREACH },        /* "Could not resolve host" */
	{ "Could not resolve", EHOSTUNREACH },
	/* before "SSL": a server that stops answering during the handshake is
	 * "Timeout was reached: SSL connection timeout" */
	{ "Timeout was reached", ETIMEDOUT },
	{ "timed out", ETIMEDOUT },
	{ "certificate", EPROTO },               /* "SSL certificate problem", "server certificate verification failed" */
	{ "SSL", EPROTO },
	{ "TLS", EPROTO },
	{ "handshake", EPROTO },
	{ "Connection refused", ECONNREFUSED },
	{ "Couldn't connect", ECONNREFUSED },
	{ "No route to host", EHOSTUNREACH },
	{ "Network is unreachable", ENETUNREACH },
	{ "Protocol", EINVAL },                  /* "Protocol "http" not supported or disabled" */
	/* an image server without byte ranges; also what a redirect we do not follow
	 * looks like to nbdkit 1.32 (the 3xx answer has no ranges) */
	{ "does not support 'range'", EOPNOTSUPP },
	{ "returned error", EIO },
};

int vm_errno_from_curl_text(const char *text)
{
	for (size_t i = 0; i < G_N_ELEMENTS(curl_errors); i++)
		if (strstr(text, curl_errors[i].text))
			return curl_errors[i].error;
	return vm_errno_from_text(text);
}

int nbdkit_diagnose(Nbdkit *k)
{
	return vm_errno_from_curl_text(child_output(k->child));
}
