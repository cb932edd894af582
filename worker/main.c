/* SPDX-License-Identifier: Apache-2.0 */
/* vmedia-worker: the worker of one slot.
 *
 * Started by the supervisor with a SOCK_SEQPACKET socketpair to it on fd 3,
 * or by systemd as vmedia-worker@SLOT when the supervisor connects to the
 * slot's socket (fd 3 is then the listening socket, see supervisor_fd()).  Runs nbd-client for the
 * slot's NBD device and asks its gadget-helper to expose that device to the
 * host.  The supervisor starts one only while the slot is used (and once at
 * its own start, to clean what a killed instance left), and hangs up when the
 * slot is idle and clean again.  Exits when the supervisor goes away, after
 * cleaning up. */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <locale.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include "worker/share_mount.h"

#include "common/config.h"
#include "worker/worker.h"

#define SUPERVISOR_FD 3
#define LOCK_POLL_MS 200

/* systemd's socket activation (Accept=no): LISTEN_PID is ours and fd 3 listens;
 * the supervisor's connection is the one that made systemd start us. */
static gboolean socket_activated(void)
{
	const char *pid = g_getenv("LISTEN_PID"), *fds = g_getenv("LISTEN_FDS");
	gboolean ours = pid && fds && strtoul(pid, NULL, 10) == (unsigned long)getpid() &&
			strcmp(fds, "1") == 0;

	/* not for our children */
	g_unsetenv("LISTEN_PID");
	g_unsetenv("LISTEN_FDS");
	g_unsetenv("LISTEN_FDNAMES");
	return ours;
}

/* The socket to the supervisor, or -1 (errno set). */
static int supervisor_fd(void)
{
	int listening = 0, fd;
	socklen_t len = sizeof listening;

	if (!socket_activated())
		return SUPERVISOR_FD;
	if (getsockopt(SUPERVISOR_FD, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
		return -1;
	if (!listening) {
		errno = EINVAL;
		return -1;
	}
	fcntl(SUPERVISOR_FD, F_SETFL, fcntl(SUPERVISOR_FD, F_GETFL) & ~O_NONBLOCK);
	fd = accept4(SUPERVISOR_FD, NULL, NULL, SOCK_CLOEXEC);
	close(SUPERVISOR_FD); /* systemd keeps listening for our successor */
	return fd;
}

/* One worker per slot at a time: the worker of a supervisor that was killed
 * may still be cleaning up when the next supervisor starts its successor, and
 * both would act on the same gadget, device and share.  The successor waits
 * (its slot stays unavailable); the kernel drops the lock however the holder
 * ends.  A supervisor that hangs up meanwhile ends the wait: a predecessor
 * stuck for good must not keep its successor from stopping.  Returns the
 * lock's fd (kept open for the process's life). */
static int lock_slot(const char *slot, int supervisor)
{
	g_autofree char *path = g_strdup_printf(VM_SHARE_RUN_DIR "/%s.lock", slot);
	gboolean told = FALSE;
	int fd;

	if (g_mkdir_with_parents(VM_SHARE_RUN_DIR, 0755) < 0)
		return -errno;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		/* flock() cannot time out: poll the supervisor between tries */
		struct pollfd p = { .fd = supervisor };
		int r = -errno;

		if (r != -EWOULDBLOCK && r != -EINTR) {
			close(fd);
			return r;
		}
		if (!told)
			g_message("%s: waiting for the previous worker of the slot to finish", slot);
		told = TRUE;
		if (poll(&p, 1, LOCK_POLL_MS) > 0 && (p.revents & (POLLHUP | POLLERR))) {
			close(fd);
			return -ECONNRESET;
		}
	}
	return fd;
}

/* The lock file also says whether the slot's last worker left it clean: "c",
 * the slot's NBD device and its request size (KiB), written by a worker that
 * exits after a teardown in which every step worked, and emptied by the next
 * one before it does anything.  A worker that was killed, or whose teardown
 * failed at a step (a gadget or a share it could not remove), leaves it empty,
 * and its successor cleans up in full.  So does one whose configuration gives
 * the slot another device or mode: the full cleanup has the gadget-helper set
 * the device's request size before nbd-client attaches it (a Proxy device left
 * at a Legacy size would lose bmcweb's session at its first read-ahead).
 * /run does not outlive a reboot. */
static char *clean_mark(const struct vm_slot_config *slot)
{
	return g_strdup_printf("c %s %u", slot->nbd_device, vm_slot_request_kb(slot));
}

static gboolean take_clean_mark(int lock, const struct vm_slot_config *slot)
{
	g_autofree char *want = clean_mark(slot);
	char got[64] = "";
	ssize_t n = pread(lock, got, sizeof got - 1, 0);
	gboolean clean = n == (ssize_t)strlen(want) && memcmp(got, want, (size_t)n) == 0;

	if (ftruncate(lock, 0) < 0)
		return FALSE; /* not cleared: do not trust it */
	return clean;
}

static void leave_clean_mark(int lock, const struct vm_slot_config *slot)
{
	g_autofree char *mark = clean_mark(slot);
	size_t n = strlen(mark);

	if (pwrite(lock, mark, n, 0) != (ssize_t)n)
		g_warning("cannot mark the slot clean: %s", g_strerror(errno));
}

static gboolean on_signal(gpointer w)
{
	worker_shutdown(w);
	return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
	g_autofree char *config_path = NULL, *slot_name = NULL;
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file", "FILE" },
		{ "slot", 's', 0, G_OPTION_ARG_STRING, &slot_name, "The slot to serve", "NAME" },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- the worker of one virtual media slot");
	g_autoptr(GError) error = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	g_autoptr(Worker) w = NULL;
	g_autofree struct vm_config *cfg = g_new0(struct vm_config, 1);
	const struct vm_slot_config *slot;
	char err[512];
	int fd, lock;

	setlocale(LC_ALL, "");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		g_printerr("vmedia-worker: %s\n", error->message);
		return 2;
	}
	if (!config_path)
		config_path = vm_config_default_path(SYSCONFDIR); /* the supervisor's choice too */
	if (vm_config_load(config_path, cfg, err, sizeof err) < 0) {
		g_printerr("vmedia-worker: %s\n", err);
		return 1;
	}
	slot = slot_name ? vm_config_find_slot(cfg, slot_name) : NULL;
	if (!slot) {
		g_printerr("vmedia-worker: %s: no slot named \"%s\"\n", config_path,
			   slot_name ? slot_name : "");
		return 2;
	}
	g_set_prgname("vmedia-worker");
	/* A thread of GLib's pools (media detection, the credentials and the share's
	 * mount run in one) would otherwise linger and wake up 15 s after its last
	 * task, only to exit: a worker with no slot active sleeps (test_idle.py). */
	g_thread_pool_set_max_unused_threads(0);
	fd = supervisor_fd();
	if (fd < 0) {
		g_printerr("vmedia-worker: %s: no connection from the supervisor: %s\n", slot->name,
			   g_strerror(errno));
		return 1;
	}
	lock = lock_slot(slot->name, fd);
	if (lock < 0) {
		g_printerr("vmedia-worker: %s: cannot lock the slot: %s\n", slot->name, g_strerror(-lock));
		return 1;
	}
	loop = g_main_loop_new(NULL, FALSE);
	w = worker_new(config_path, slot, fd, take_clean_mark(lock, slot), loop, &error);
	if (!w) {
		g_printerr("vmedia-worker: %s: %s\n", slot->name, error->message);
		return 1;
	}
	g_unix_signal_add(SIGTERM, on_signal, w);
	g_unix_signal_add(SIGINT, on_signal, w);
	g_main_loop_run(loop);
	if (worker_left_clean(w))
		leave_clean_mark(lock, slot);
	return 0;
}
