/* SPDX-License-Identifier: Apache-2.0 */
/* A slot's worker process: see worker_proc.h. */
#include "supervisor/worker_proc.h"

#include <errno.h>
#include <gio/gio.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/channel.h"

/* A worker that goes sooner than this after its start is started again after
 * a growing delay, so that a broken installation does not spin. */
#define QUICK_DEATH_US (10 * G_USEC_PER_SEC)
#define MAX_BACKOFF_S 30

struct _WorkerProc {
	char *program;
	char *config_path;
	char *socket_path; /* connect mode */
	char *slot;
	WorkerProcMessageFunc on_message;
	WorkerProcGoneFunc on_gone;
	gpointer user_data;

	GSubprocess *proc; /* spawn mode */
	VmChannel *ch;
	GCancellable *cancel;
	gint64 started_at;
	guint backoff_s;
	guint restart_timer;
	gboolean wanted;   /* between worker_proc_start() and _retire() */
	gboolean stopping;
};

static void start_now(WorkerProc *wp);

static gboolean on_restart_timer(gpointer data)
{
	WorkerProc *wp = data;

	wp->restart_timer = 0;
	if (wp->wanted && !wp->stopping)
		start_now(wp);
	return G_SOURCE_REMOVE;
}

static void schedule_restart(WorkerProc *wp, gboolean failed_to_start)
{
	gboolean quick = failed_to_start ||
			 g_get_monotonic_time() - wp->started_at < QUICK_DEATH_US;

	wp->backoff_s = quick ? MIN(MAX(wp->backoff_s * 2, 1), MAX_BACKOFF_S) : 0;
	if (wp->backoff_s)
		g_message("%s: starting the worker again in %u s", wp->slot, wp->backoff_s);
	wp->restart_timer = g_timeout_add_seconds(wp->backoff_s, on_restart_timer, wp);
}

/* The worker is gone for good: tell the slot, then get a new one. */
static void worker_gone(WorkerProc *wp)
{
	g_clear_pointer(&wp->ch, vm_channel_free);
	wp->on_gone(wp->user_data);
	if (wp->wanted && !wp->stopping && !wp->restart_timer)
		schedule_restart(wp, FALSE);
}

static void on_channel_message(VmChannel *ch, struct vm_msg *m, gpointer data)
{
	WorkerProc *wp = data;
	wp->on_message(m, wp->user_data);
}

static void on_closed(VmChannel *ch, int error, gpointer data)
{
	WorkerProc *wp = data;

	vm_channel_free(wp->ch);
	wp->ch = NULL;
	if (!wp->socket_path) {
		/* A worker that closes its socket is of no use: make sure it
		 * is gone; on_worker_exit follows. */
		if (wp->proc && !wp->stopping)
			g_subprocess_force_exit(wp->proc);
		return;
	}
	if (!wp->stopping)
		g_warning("%s: the worker hung up", wp->slot);
	worker_gone(wp);
}

static void on_worker_exit(GObject *src, GAsyncResult *res, gpointer data)
{
	GSubprocess *proc = G_SUBPROCESS(src);
	WorkerProc *wp = data;

	if (!g_subprocess_wait_finish(proc, res, NULL)) {
		g_object_unref(proc);
		return; /* cancelled: wp is gone */
	}
	if (proc != wp->proc) {
		/* a retired worker: it was clean and idle */
		if (!g_subprocess_get_successful(proc))
			g_warning("%s: a retired worker ended badly", wp->slot);
		g_object_unref(proc);
		return;
	}
	if (g_subprocess_get_if_signaled(proc))
		g_warning("%s: the worker was killed by signal %d", wp->slot,
			  g_subprocess_get_term_sig(proc));
	else if (!wp->stopping || g_subprocess_get_exit_status(proc) != 0)
		g_warning("%s: the worker exited with status %d", wp->slot,
			  g_subprocess_get_exit_status(proc));
	g_clear_object(&wp->proc);
	g_object_unref(proc);
	worker_gone(wp);
}

/* Spawn mode: our own child, the socketpair's other end on its fd 3. */
static int spawn_worker(WorkerProc *wp)
{
	g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_INHERIT);
	g_autoptr(GError) error = NULL;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		g_warning("%s: socketpair: %s", wp->slot, g_strerror(errno));
		return -1;
	}
	g_subprocess_launcher_take_fd(l, sv[1], 3);
	wp->proc = g_subprocess_launcher_spawn(l, &error, wp->program, "--config", wp->config_path,
					       "--slot", wp->slot, NULL);
	if (!wp->proc) {
		g_warning("%s: cannot start the worker: %s", wp->slot, error->message);
		close(sv[0]);
		return -1;
	}
	/* the wait holds a reference of its own, dropped by on_worker_exit() */
	g_subprocess_wait_async(g_object_ref(wp->proc), wp->cancel, on_worker_exit, wp);
	return sv[0];
}

/* Connect mode: systemd starts the worker when we connect; a connection to a
 * listening socket completes at once, the worker accepts it when it is up. */
static int connect_worker(WorkerProc *wp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(wp->socket_path) >= sizeof sa.sun_path) {
		g_warning("%s: %s: path too long", wp->slot, wp->socket_path);
		return -1;
	}
	strcpy(sa.sun_path, wp->socket_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		g_warning("%s: cannot reach the worker at %s: %s", wp->slot, wp->socket_path,
			  g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void start_now(WorkerProc *wp)
{
	int fd;

	wp->started_at = g_get_monotonic_time();
	fd = wp->socket_path ? connect_worker(wp) : spawn_worker(wp);
	if (fd < 0) {
		schedule_restart(wp, TRUE);
		return;
	}
	wp->ch = vm_channel_new(fd, wp->slot, on_channel_message, on_closed, wp);
}

void worker_proc_start(WorkerProc *wp)
{
	g_return_if_fail(!wp->stopping);
	wp->wanted = TRUE;
	if (!wp->proc && !wp->ch && !wp->restart_timer)
		start_now(wp);
}

void worker_proc_retire(WorkerProc *wp)
{
	wp->wanted = FALSE;
	g_clear_handle_id(&wp->restart_timer, g_source_remove);
	wp->backoff_s = 0;
	/* closing our end is the hang-up: a spawned worker is still reaped by
	 * on_worker_exit(), which knows it is no longer wp->proc */
	g_clear_pointer(&wp->ch, vm_channel_free);
	if (wp->proc)
		g_object_unref(g_steal_pointer(&wp->proc));
}

WorkerProc *worker_proc_new(const struct worker_launch *how, const char *slot,
			    WorkerProcMessageFunc on_message, WorkerProcGoneFunc on_gone,
			    gpointer user_data)
{
	WorkerProc *wp = g_new0(WorkerProc, 1);

	wp->program = g_strdup(how->program);
	wp->config_path = g_strdup(how->config_path);
	if (how->socket_dir)
		wp->socket_path = g_strdup_printf("%s/%s.sock", how->socket_dir, slot);
	wp->slot = g_strdup(slot);
	wp->on_message = on_message;
	wp->on_gone = on_gone;
	wp->user_data = user_data;
	wp->cancel = g_cancellable_new();
	return wp;
}

int worker_proc_send(WorkerProc *wp, const struct vm_msg *m)
{
	return vm_channel_send(wp->ch, m);
}

void worker_proc_kill(WorkerProc *wp)
{
	if (wp->proc) {
		g_subprocess_send_signal(wp->proc, SIGKILL);
	} else if (wp->ch) {
		g_warning("%s: hanging up on the worker", wp->slot);
		worker_gone(wp);
	}
}

gboolean worker_proc_stop(WorkerProc *wp)
{
	wp->stopping = TRUE;
	g_clear_handle_id(&wp->restart_timer, g_source_remove);
	if (wp->socket_path) {
		/* not our child: wait for it to hang up once it has cleaned up */
		vm_channel_hang_up(wp->ch);
		return wp->ch != NULL;
	}
	g_clear_pointer(&wp->ch, vm_channel_free);
	return wp->proc != NULL;
}

void worker_proc_free(WorkerProc *wp)
{
	if (!wp)
		return;
	worker_proc_stop(wp);
	g_cancellable_cancel(wp->cancel);
	if (wp->proc)
		g_subprocess_force_exit(wp->proc);
	g_clear_object(&wp->proc);
	g_clear_object(&wp->cancel);
	g_free(wp->program);
	g_free(wp->config_path);
	g_free(wp->socket_path);
	g_free(wp->slot);
	g_free(wp);
}
