/* SPDX-License-Identifier: Apache-2.0 */
/* A child process of the worker: see child.h. */
#include "worker/child.h"

#include <errno.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "worker/sandbox.h"

#define OUTPUT_KEEP 4096 /* bytes of output kept for the diagnosis */

struct _Child {
	GSubprocess *proc;
	GDataInputStream *out;
	GCancellable *cancel;
	GString *output;
	char *slot;
	char *name;
	gboolean exited;
	int sandbox;
	ChildExitFunc on_exit;
	gpointer user_data;
};

static void on_line(GObject *src, GAsyncResult *res, gpointer data)
{
	g_autofree char *line = g_data_input_stream_read_line_finish(G_DATA_INPUT_STREAM(src), res,
								   NULL, NULL);
	Child *c = data;

	if (!line)
		return; /* EOF, or cancelled by child_free (c may be gone) */
	g_message("%s: %s: %s", c->slot, c->name, line);
	if (c->output->len < OUTPUT_KEEP)
		g_string_append_printf(c->output, "%s\n", line);
	g_data_input_stream_read_line_async(c->out, G_PRIORITY_DEFAULT, c->cancel, on_line, c);
}

static void on_wait(GObject *src, GAsyncResult *res, gpointer data)
{
	GSubprocess *proc = G_SUBPROCESS(src);
	Child *c = data;
	int code;

	if (!g_subprocess_wait_finish(proc, res, NULL))
		return; /* cancelled: c is gone */
	code = g_subprocess_get_if_signaled(proc) ? 128 + g_subprocess_get_term_sig(proc)
						  : g_subprocess_get_exit_status(proc);
	c->exited = TRUE;
	c->on_exit(code, c->user_data);
}

/* In the child between fork and exec.  The worker's CAP_SYS_ADMIN is an
 * ambient capability (units/vmedia-worker@.service), so it would survive the
 * exec; no_new_privs keeps a setuid program (the gadget-helper is one) from
 * handing rights back; then the sandbox, if any.  Fails closed. */
static void drop_rights(gpointer data)
{
	const Child *c = data;

	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 ||
	    sandbox_enter(c->sandbox) < 0)
		_exit(126);
}

/* nbd-client keeps CAP_SYS_ADMIN alone: the worker's other ambient right
 * (CAP_DAC_READ_SEARCH, for /proc/fs/cifs) is not its business. */
static void keep_sys_admin_only(gpointer data)
{
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_DAC_READ_SEARCH, 0, 0) < 0 &&
	    errno != EINVAL)
		_exit(126);
}

Child *child_spawn(const char *slot, const char *const *argv, ChildRights rights, int sandbox,
		   const int *fds, guint n_fds, ChildExitFunc on_exit, gpointer user_data,
		   GError **error)
{
	/* stderr merged into the stdout pipe: one stream to log and diagnose */
	g_autoptr(GSubprocessLauncher) l =
		g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE |
					  G_SUBPROCESS_FLAGS_STDERR_MERGE);
	g_autoptr(Child) c = g_new0(Child, 1);

	c->slot = g_strdup(slot);
	c->name = g_path_get_basename(argv[0]);
	c->on_exit = on_exit;
	c->user_data = user_data;
	c->output = g_string_new(NULL);
	c->cancel = g_cancellable_new();

	for (guint i = 0; i < n_fds; i++)
		g_subprocess_launcher_take_fd(l, fds[i], 3 + (int)i);
	c->sandbox = sandbox;
	if (rights == CHILD_NO_CAPS)
		g_subprocess_launcher_set_child_setup(l, drop_rights, c, NULL);
	else
		g_subprocess_launcher_set_child_setup(l, keep_sys_admin_only, NULL, NULL);
	c->proc = g_subprocess_launcher_spawnv(l, argv, error);
	if (sandbox >= 0)
		close(sandbox); /* the child has it, or there is no child */
	c->sandbox = -1;
	if (!c->proc)
		return NULL;
	c->out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(c->proc));
	g_data_input_stream_read_line_async(c->out, G_PRIORITY_DEFAULT, c->cancel, on_line, c);
	g_subprocess_wait_async(c->proc, c->cancel, on_wait, c);
	return g_steal_pointer(&c);
}

void child_kill(Child *c, int sig)
{
	if (c && c->proc && !c->exited)
		g_subprocess_send_signal(c->proc, sig);
}

gboolean child_running(Child *c)
{
	return c && c->proc && !c->exited;
}

const char *child_output(Child *c)
{
	return c->output->str;
}

const char *child_pid(Child *c)
{
	return c->proc ? g_subprocess_get_identifier(c->proc) : "-";
}

void child_free(Child *c)
{
	if (!c)
		return;
	if (c->cancel)
		g_cancellable_cancel(c->cancel);
	if (c->proc && !c->exited)
		g_subprocess_force_exit(c->proc); /* never leave one behind; GLib reaps it */
	g_clear_object(&c->out);
	g_clear_object(&c->proc);
	g_clear_object(&c->cancel);
	if (c->output)
		g_string_free(c->output, TRUE);
	g_free(c->slot);
	g_free(c->name);
	g_free(c);
}
