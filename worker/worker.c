/* SPDX-License-Identifier: Apache-2.0 */
/* The worker of one slot.
 *
 * It does not script "mount" and "unmount" as sequences of callbacks.  It keeps
 * what it wants (want_mounted) and what is (a child running, the device
 * attached, its media known, a gadget exposed), and after every event
 * worker_advance() takes the one next step that brings the two closer.  So a
 * failure at any point, an Unmount in the middle of a Mount, a child that dies
 * or a supervisor that goes away all end in the same teardown, in the same
 * order: gadget first (the host lets go), then the NBD device, then the child.
 * Each request gets exactly one answer, sent when the slot is settled.
 */
#include "worker/worker.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/channel.h"
#include "common/image_url.h"
#include "worker/credentials.h"
#include "worker/helper_link.h"
#include "worker/nbd_client.h"
#include "worker/nbd_device.h"
#include "worker/nbdkit.h"
#include "worker/nfs_share.h"
#include "worker/share_mount.h"
#include "worker/smb_share.h"

/* How long bmcweb may take to write the credentials into the pipe. */
#define CREDENTIALS_TIMEOUT_MS 5000

/* Seconds to wait after each step of stopping the child: NBD_DISCONNECT, then
 * SIGTERM, then SIGKILL. */
#define STOP_GRACE_SECONDS 3

/* The request being served, answered when the slot has settled. */
enum worker_op {
	OP_NONE,    /* idle, or mounted */
	OP_STARTUP, /* cleaning what a previous instance left; answered with READY */
	OP_MOUNT,
	OP_UNMOUNT,
};

struct _Worker {
	const struct vm_slot_config *slot;
	GMainLoop *loop;
	VmChannel *supervisor;
	HelperLink *helper;
	NbdDevice *dev;

	enum worker_op op;
	gboolean busy;          /* something is, or may be, set up */
	gboolean want_mounted;
	int error;              /* the first error of this attempt (positive errno) */

	/* Legacy: the image's source, served by nbdkit on the slot's socket */
	gboolean legacy;
	char *url;
	gboolean rw;
	int cred_fd;            /* the credentials pipe, until read */
	struct vm_credentials *creds;
	GCancellable *reading;
	Nbdkit *server;
	gboolean server_ready;
	VmImageUrl source;      /* the URL's parts */
	gboolean share_mounted; /* smb://, nfs://: the share is mounted on the slot's mount point */
	GCancellable *share_op;  /* the share's mount or unmount runs in a thread */

	Child *child;           /* nbd-client */
	int exit_code;          /* the child's, -1 while it has not exited */

	gboolean connected;     /* the device has a size */
	gboolean orphan_cleared; /* attached by a crashed worker's nbd-client: cleared */
	guint attached_waits;   /* grace periods waited for the device's release */
	gboolean lost_connection;
	gboolean media_known;
	int media;
	GCancellable *detecting;

	gboolean gadget_exposed;
	guint gadget_helper_generation; /* of the helper that exposed it */
	gboolean gadget_maybe_stale; /* a crash may have left one: clean up by name */
	gboolean helper_busy;
	gboolean mount_reported;

	gboolean teardown_failed; /* a gadget or share we could not remove */
	int stop_stage;         /* 0 none, 1 disconnect sent, 2 SIGTERM sent, 3 SIGKILL sent */
	guint stop_timer;
	gboolean supervisor_gone;
};

static void worker_advance(Worker *w);

static void send_msg(Worker *w, struct vm_msg *m)
{
	if (!w->supervisor_gone)
		vm_channel_send(w->supervisor, m);
}

static void reply_mounted(Worker *w, int error)
{
	struct vm_msg m;

	vm_msg_init(&m, VM_MSG_MOUNTED);
	vm_msg_put_i32(&m, error);
	vm_msg_put_i32(&m, w->exit_code);
	vm_msg_put_u32(&m, error ? VM_MEDIA_DISK : (uint32_t)w->media);
	vm_msg_put_u32(&m, !w->rw);
	vm_msg_put_str(&m, w->url ? w->url : "");
	send_msg(w, &m);
	w->mount_reported = TRUE;
}

static void reply_done(Worker *w, uint32_t type, int error)
{
	struct vm_msg m;

	vm_msg_init(&m, type);
	vm_msg_put_i32(&m, error);
	vm_msg_put_i32(&m, w->exit_code);
	send_msg(w, &m);
}

static void reply_ready(Worker *w)
{
	struct vm_msg m;

	vm_msg_init(&m, VM_MSG_READY);
	vm_msg_put_u32(&m, VM_MSG_VERSION);
	send_msg(w, &m);
}

/* Give up on being mounted: the first error is the one reported. */
static void fail(Worker *w, int error, const char *what)
{
	if (w->want_mounted || !w->error)
		g_warning("%s: %s: %s", w->slot->name, what, g_strerror(error));
	if (!w->error)
		w->error = error;
	w->want_mounted = FALSE;
}

/* --- events -------------------------------------------------------------------- */

static void on_child_exit(int exit_code, gpointer data)
{
	Worker *w = data;

	g_message("%s: nbd-client exited with %d", w->slot->name, exit_code);
	/* the next step of the teardown, if any, starts afresh */
	if (w->stop_timer)
		g_source_remove(w->stop_timer);
	w->stop_timer = 0;
	w->stop_stage = 0;
	w->exit_code = exit_code;
	w->connected = nbd_device_size(w->dev) > 0;
	if (w->want_mounted) {
		if (w->mount_reported || w->lost_connection)
			fail(w, ECONNRESET, "the NBD connection ended");
		else if (w->connected || w->media_known)
			fail(w, ECONNRESET, "nbd-client ended during the mount");
		else if (w->legacy && nbdkit_diagnose(w->server))
			fail(w, nbdkit_diagnose(w->server), "the image server refused the image");
		else
			fail(w, nbd_client_diagnose(w->child, w->slot->unix_socket),
			     "nbd-client could not connect");
	}
	worker_advance(w);
}

static void on_server_exit(int exit_code, gpointer data)
{
	Worker *w = data;
	int e = nbdkit_diagnose(w->server);

	g_message("%s: nbdkit exited with %d", w->slot->name, exit_code);
	if (w->want_mounted)
		fail(w, e ? e : EIO, "nbdkit ended");
	worker_advance(w);
}

static void on_server_ready(gpointer data)
{
	Worker *w = data;

	w->server_ready = TRUE;
	worker_advance(w);
}

static void on_credentials(GObject *src, GAsyncResult *res, gpointer data)
{
	Worker *w = data;
	g_autoptr(GError) error = NULL;
	struct vm_credentials *c = vm_credentials_read_finish(res, &error);

	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return; /* w is gone */
	g_clear_object(&w->reading);
	if (!c) {
		fail(w, g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ? ETIMEDOUT : EINVAL,
		     error->message);
		c = g_new0(struct vm_credentials, 1);
	}
	w->creds = c;
	worker_advance(w);
}

static void on_share_mounted(GObject *src, GAsyncResult *res, gpointer data)
{
	Worker *w = data;
	int e = share_task_finish(res);

	if (e == ECANCELED)
		return; /* w is gone */
	g_clear_object(&w->share_op);
	w->share_mounted = TRUE; /* also after a failure: unmounting is harmless */
	vm_credentials_free(g_steal_pointer(&w->creds)); /* the kernel has them now */
	w->creds = g_new0(struct vm_credentials, 1);
	if (e)
		fail(w, e, "the share could not be mounted");
	worker_advance(w);
}

static void on_share_unmounted(GObject *src, GAsyncResult *res, gpointer data)
{
	Worker *w = data;
	int e = share_task_finish(res);

	if (e == ECANCELED)
		return; /* w is gone */
	g_clear_object(&w->share_op);
	if (e) {
		g_warning("%s: cannot unmount the share: %s", w->slot->name, g_strerror(e));
		w->teardown_failed = TRUE;
	}
	w->share_mounted = FALSE;
	worker_advance(w);
}

static void on_size(guint64 size, gpointer data)
{
	Worker *w = data;
	gboolean connected = size > 0;

	if (connected == w->connected)
		return;
	g_message("%s: %s %s (%" G_GUINT64_FORMAT " bytes)", w->slot->name, w->slot->nbd_device,
		  connected ? "attached" : "detached", size);
	w->connected = connected;
	if (!connected && w->want_mounted) {
		w->lost_connection = TRUE;
		fail(w, ECONNRESET, "the NBD device went away");
	}
	worker_advance(w);
}

static void on_media(GObject *src, GAsyncResult *res, gpointer data)
{
	Worker *w = data;
	g_autoptr(GError) error = NULL;
	int media = nbd_device_detect_media_finish(w->dev, res, &error);

	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return; /* w is gone */
	g_clear_object(&w->detecting);
	if (media < 0) {
		fail(w, EIO, error->message);
	} else {
		switch (w->slot->media) {
		case VM_MEDIA_POLICY_CDROM: media = VM_MEDIA_CDROM; break;
		case VM_MEDIA_POLICY_DISK: media = VM_MEDIA_DISK; break;
		case VM_MEDIA_POLICY_AUTO: break;
		}
		w->media = media;
		w->media_known = TRUE;
		/* the request size and read-ahead: the gadget-helper's (queue.h) */
		g_message("%s: the image will be shown as a %s", w->slot->name, vm_media_to_str(media));
	}
	worker_advance(w);
}

static void on_gadget_created(int error, const char *udc, gpointer data)
{
	Worker *w = data;

	w->helper_busy = FALSE;
	if (error) {
		fail(w, error, "the USB gadget could not be created");
		/* whatever is in configfs under our name (a part of ours, or one
		 * nobody told us of) goes with the teardown */
		w->gadget_maybe_stale = TRUE;
	} else {
		w->gadget_exposed = TRUE;
		w->gadget_helper_generation = helper_link_generation(w->helper);
		g_message("%s: the host sees %s on %s", w->slot->name, w->slot->nbd_device, udc);
	}
	worker_advance(w);
}

static void on_gadget_removed(int error, const char *udc, gpointer data)
{
	Worker *w = data;

	w->helper_busy = FALSE;
	/* Nothing better to do than go on: the device is disconnected next, and
	 * the host sees the media go away all the same. */
	if (error) {
		g_warning("%s: the USB gadget could not be removed: %s", w->slot->name,
			  g_strerror(error));
		w->teardown_failed = TRUE;
	}
	w->gadget_exposed = FALSE;
	w->gadget_maybe_stale = FALSE;
	worker_advance(w);
}

/* The helper died between requests: the gadget it exposed is in an unknown
 * state and nobody could remove it on Unmount, so it is treated as a loss of
 * the media, like any other process of the chain dying. */
static void on_helper_lost(gpointer helper, gpointer data)
{
	Worker *w = data;

	if (!w->gadget_exposed)
		return; /* nothing of ours depended on it: the next request starts a new one */
	if (w->want_mounted)
		fail(w, ECONNRESET, "the gadget-helper has gone");
	worker_advance(w);
}

static gboolean on_stop_timer(gpointer data)
{
	Worker *w = data;

	w->stop_timer = 0;
	w->connected = nbd_device_size(w->dev) > 0;
	worker_advance(w);
	return G_SOURCE_REMOVE;
}

/* --- steps ----------------------------------------------------------------------- */

static void gadget_request(Worker *w, uint32_t type, HelperReplyFunc cb)
{
	struct vm_msg m;

	vm_msg_init(&m, type);
	vm_msg_put_str(&m, w->slot->name);
	if (type == VM_MSG_GADGET_CREATE) {
		vm_msg_put_str(&m, w->slot->nbd_device);
		vm_msg_put_u32(&m, !w->rw);
		vm_msg_put_u32(&m, (uint32_t)w->media);
	}
	w->helper_busy = TRUE;
	helper_link_request(w->helper, &m, cb, w);
}

static void start_child(Worker *w)
{
	g_autoptr(GError) error = NULL;

	w->child = nbd_client_spawn(w->slot, !w->rw, on_child_exit, w, &error);
	if (!w->child) {
		fail(w, ENOEXEC, error->message);
		return;
	}
}

/* Where the image is below the slot's mount point: an smb:// URL's first
 * segment is the share, an nfs:// mount is the image's own directory. */
static char *image_on_share(Worker *w)
{
	g_autofree char *mp = share_mountpoint(w->slot->name);
	g_autofree char *name = g_path_get_basename(w->source.path);

	if (w->source.scheme == VM_URL_SMB)
		return g_build_filename(mp, strchr(w->source.path + 1, '/'), NULL);
	return g_build_filename(mp, name, NULL);
}

/* 0 if nbdkit can serve the image, else why not: it must be a file that can
 * be read (and written, for rw) -- asked of the server, which may squash us */
static int check_image(const char *path, gboolean rw)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno == ENOTDIR ? ENOENT : errno;
	if (!S_ISREG(st.st_mode))
		return ENOENT;
	if (access(path, R_OK | (rw ? W_OK : 0)) < 0)
		return errno;
	return 0;
}

static void start_server(Worker *w)
{
	g_autoptr(GError) error = NULL;

	if (vm_url_scheme_is_share(w->source.scheme)) {
		g_autofree char *path = image_on_share(w);
		int e = check_image(path, w->rw);

		if (e) {
			fail(w, e, e == ENOENT ? "the image is not on the share"
					       : "the image on the share cannot be opened");
			return;
		}
		w->server = nbdkit_spawn_file(w->slot, path, !w->rw, on_server_ready, on_server_exit,
					      w, &error);
	} else {
		w->server = nbdkit_spawn_curl(w->slot, w->url, w->creds, on_server_ready,
					      on_server_exit, w, &error);
	}
	vm_credentials_free(g_steal_pointer(&w->creds)); /* nbdkit has them now */
	w->creds = g_new0(struct vm_credentials, 1);     /* (read: present = FALSE) */
	if (!w->server) {
		fail(w, ENOEXEC, error->message);
		return;
	}
}

static void mount_share(Worker *w)
{
	g_auto(GStrv) parts = g_strsplit(w->source.path + 1, "/", 2);
	g_autofree char *dir = g_path_get_dirname(w->source.path);

	w->share_op = g_cancellable_new();
	if (w->source.scheme == VM_URL_NFS)
		nfs_share_mount_async(w->slot->name, w->source.host, w->source.port, dir, w->rw,
				      w->slot->timeout, w->share_op, on_share_mounted, w);
	else
		smb_share_mount_async(w->slot->name, w->source.host, w->source.port, parts[0],
				      w->creds, w->rw, w->share_op, on_share_mounted, w);
}

static void read_credentials(Worker *w)
{
	if (w->cred_fd < 0) {
		w->creds = g_new0(struct vm_credentials, 1); /* none */
		worker_advance(w);
		return;
	}
	w->reading = g_cancellable_new();
	vm_credentials_read_async(w->cred_fd, CREDENTIALS_TIMEOUT_MS, w->reading, on_credentials, w);
	w->cred_fd = -1; /* the reader owns it */
}

/* One step further in stopping the child, each after a grace period. */
static void stop_child(Worker *w)
{
	if (w->stop_timer)
		return;
	switch (w->stop_stage) {
	case 0:
		if (w->connected) {
			int r = nbd_device_disconnect(w->dev);
			if (r < 0)
				g_warning("%s: cannot disconnect %s: %s", w->slot->name,
					  w->slot->nbd_device, g_strerror(-r));
			break;
		}
		w->stop_stage++;
		/* still connecting: nothing to disconnect */
		/* fall through */
	case 1:
		child_kill(w->child, SIGTERM);
		break;
	default:
		child_kill(w->child, SIGKILL);
		break;
	}
	w->stop_stage++;
	w->stop_timer = g_timeout_add_seconds(STOP_GRACE_SECONDS, on_stop_timer, w);
}

/* The slot is clean: answer the request that led here. */
static void settle(Worker *w)
{
	enum worker_op op = w->op;

	g_clear_pointer(&w->child, child_free);
	g_clear_pointer(&w->server, nbdkit_free);
	vm_credentials_free(g_steal_pointer(&w->creds));
	g_clear_pointer(&w->url, g_free);
	vm_image_url_clear(&w->source);
	w->server_ready = FALSE;
	w->legacy = FALSE;
	w->rw = FALSE;
	if (w->stop_timer)
		g_source_remove(w->stop_timer);
	w->stop_timer = 0;
	w->stop_stage = 0;
	w->busy = FALSE;
	w->op = OP_NONE;
	w->media_known = FALSE;
	w->lost_connection = FALSE;
	w->orphan_cleared = FALSE;
	w->attached_waits = 0;

	switch (op) {
	case OP_STARTUP:
		g_message("%s: ready", w->slot->name);
		reply_ready(w);
		break;
	case OP_MOUNT:
		reply_mounted(w, w->error ? w->error : EIO);
		break;
	case OP_UNMOUNT:
		g_message("%s: unmounted", w->slot->name);
		reply_done(w, VM_MSG_UNMOUNTED, 0);
		break;
	case OP_NONE:
		g_message("%s: the media went away: %s", w->slot->name, g_strerror(w->error));
		reply_done(w, VM_MSG_LOST, w->error ? w->error : EIO);
		break;
	}
	w->error = 0;
	if (w->supervisor_gone)
		g_main_loop_quit(w->loop);
}

static void worker_advance(Worker *w)
{
	if (!w->busy || w->helper_busy || w->detecting || w->reading || w->share_op)
		return; /* an answer is on its way: it calls us again */

	if (w->want_mounted) {
		if (w->legacy && !w->creds)
			read_credentials(w);
		else if (w->legacy && vm_url_scheme_is_share(w->source.scheme) && !w->share_mounted)
			mount_share(w);
		else if (w->legacy && !w->server)
			start_server(w);
		else if (w->legacy && !w->server_ready)
			; /* wait for nbdkit to listen */
		else if (!w->child)
			start_child(w);
		else if (!w->connected)
			; /* wait for the kernel to announce the device */
		else if (!w->media_known) {
			w->detecting = g_cancellable_new();
			nbd_device_detect_media_async(w->dev, w->detecting, on_media, w);
		} else if (!w->gadget_exposed)
			gadget_request(w, VM_MSG_GADGET_CREATE, on_gadget_created);
		else if (w->op == OP_MOUNT) {
			g_message("%s: mounted", w->slot->name);
			reply_mounted(w, 0);
			w->op = OP_NONE;
		}
		if (!w->want_mounted) /* a step above failed */
			worker_advance(w);
		return;
	}

	/* A crash left the device attached with nobody of ours to serve it: the
	 * host's requests in flight would wait for the NBD timeout, and the
	 * gadget's removal with them.  Clearing the device fails them at once. */
	if (w->connected && !w->child && !w->orphan_cleared) {
		g_warning("%s: %s is attached with no nbd-client of ours: disconnecting",
			  w->slot->name, w->slot->nbd_device);
		nbd_device_disconnect(w->dev);
		w->orphan_cleared = TRUE;
	}
	/* tearing down: the host lets go first, then the device and nbd-client, then
	 * the image server (nbdkit), then the share it served from */
	if (w->gadget_exposed && w->gadget_helper_generation != helper_link_generation(w->helper))
		w->gadget_maybe_stale = TRUE; /* the helper that exposed it has gone */
	if (w->gadget_maybe_stale)
		gadget_request(w, VM_MSG_GADGET_CLEANUP, on_gadget_removed);
	else if (w->gadget_exposed)
		gadget_request(w, VM_MSG_GADGET_REMOVE, on_gadget_removed);
	else if (child_running(w->child))
		stop_child(w);
	else if (w->connected) {
		/* the client has gone (ours, or a crash's, cleared above) and the
		 * kernel's announcement is on its way -- unless someone else has the
		 * device open: the kernel keeps its size until the last opener
		 * closes it, so say so and try again at each grace period */
		if (!w->stop_timer) {
			if (w->attached_waits++ == 1)
				g_warning("%s: %s is still attached %d s after its client ended: "
					  "is it open elsewhere? disconnecting it again until it is free",
					  w->slot->name, w->slot->nbd_device, STOP_GRACE_SECONDS);
			if (w->attached_waits > 1)
				nbd_device_disconnect(w->dev);
			w->stop_timer = g_timeout_add_seconds(STOP_GRACE_SECONDS, on_stop_timer, w);
		}
	} else if (w->server && child_running(nbdkit_child(w->server))) {
		/* the device is free: the image server goes last */
		if (!w->stop_timer) {
			child_kill(nbdkit_child(w->server), w->stop_stage++ < 2 ? SIGTERM : SIGKILL);
			w->stop_timer = g_timeout_add_seconds(STOP_GRACE_SECONDS, on_stop_timer, w);
		}
	} else if (w->share_mounted) {
		w->share_op = g_cancellable_new();
		share_unmount_async(w->slot->name, w->share_op, on_share_unmounted, w);
	} else
		settle(w);
}

/* --- requests from the supervisor ------------------------------------------------ */

static void handle_mount(Worker *w, const char *url, gboolean rw, int cred_fd)
{
	if (w->busy) {
		if (cred_fd >= 0)
			close(cred_fd);
		reply_mounted(w, EBUSY);
		return;
	}
	w->legacy = url != NULL;
	w->url = g_strdup(url);
	w->rw = rw;
	w->cred_fd = cred_fd;
	g_message("%s: mounting %s on %s", w->slot->name, url ? url : w->slot->unix_socket,
		  w->slot->nbd_device);
	w->busy = TRUE;
	w->op = OP_MOUNT;
	w->want_mounted = TRUE;
	w->mount_reported = FALSE;
	w->error = 0;
	w->exit_code = -1;
	helper_link_prestart(w->helper); /* its start overlaps nbd-client's */
	worker_advance(w);
}

static void handle_unmount(Worker *w)
{
	if (!w->busy) {
		reply_done(w, VM_MSG_UNMOUNTED, 0);
		return;
	}
	g_message("%s: unmounting", w->slot->name);
	if (w->op == OP_MOUNT) {
		/* the Mount is answered now; the Unmount when all is clean */
		reply_mounted(w, ECANCELED);
		w->error = ECANCELED;
	}
	w->op = OP_UNMOUNT;
	w->want_mounted = FALSE;
	worker_advance(w);
}

static void on_supervisor_message(VmChannel *ch, struct vm_msg *m, gpointer data)
{
	Worker *w = data;
	struct vm_cursor c;

	vm_cursor_init(&c, m);
	switch (m->type) {
	case VM_MSG_MOUNT_PROXY:
		if (!vm_cursor_end(&c) || m->fd >= 0 || w->slot->mode != VM_MODE_PROXY)
			break;
		handle_mount(w, NULL, FALSE, -1);
		return;
	case VM_MSG_MOUNT_LEGACY: {
		const char *url = vm_cursor_str(&c);
		uint32_t rw = vm_cursor_u32(&c);
		g_autoptr(GError) error = NULL;
		VmImageUrl u;

		if (!vm_cursor_end(&c) || rw > 1 || w->slot->mode != VM_MODE_LEGACY)
			break;
		/* checked again: the supervisor is not trusted with what we run */
		if (!vm_image_url_parse(url, &u, &error) ||
		    (u.scheme == VM_URL_HTTP && !w->slot->allow_http) ||
		    (rw && !vm_url_scheme_is_share(u.scheme))) {
			g_warning("%s: refusing %s", w->slot->name, error ? error->message : "the URL");
			vm_image_url_clear(&u);
			reply_mounted(w, EINVAL);
			return;
		}
		if (!w->busy) {
			vm_image_url_clear(&w->source);
			w->source = u; /* ours now */
		} else
			vm_image_url_clear(&u);
		handle_mount(w, url, rw, m->fd);
		m->fd = -1; /* ours now */
		return;
	}
	case VM_MSG_UNMOUNT:
		if (!vm_cursor_end(&c) || m->fd >= 0)
			break;
		handle_unmount(w);
		return;
	default:
		break;
	}
	/* The supervisor is our only peer: a message we cannot take is a bug. */
	g_critical("%s: unexpected %s from the supervisor", w->slot->name,
		   vm_msg_type_to_str(m->type));
	if (m->type == VM_MSG_MOUNT_LEGACY || m->type == VM_MSG_MOUNT_PROXY)
		reply_mounted(w, EINVAL);
}

void worker_shutdown(Worker *w)
{
	w->supervisor_gone = TRUE;
	w->want_mounted = FALSE;
	if (w->busy)
		worker_advance(w);
	else
		g_main_loop_quit(w->loop);
}

static void on_supervisor_closed(VmChannel *ch, int error, gpointer data)
{
	Worker *w = data;

	/* idle and clean: the slot's use is over and so is ours */
	if (w->busy)
		g_message("%s: the supervisor has gone; cleaning up", w->slot->name);
	worker_shutdown(w);
}

Worker *worker_new(const char *config_path, const struct vm_slot_config *slot, int supervisor_fd,
		   gboolean known_clean, GMainLoop *loop, GError **error)
{
	g_autoptr(Worker) w = g_new0(Worker, 1);

	w->slot = slot;
	w->loop = loop;
	w->exit_code = -1;
	w->cred_fd = -1;
	w->dev = nbd_device_new(slot->nbd_device, on_size, w, error);
	if (!w->dev) {
		close(supervisor_fd);
		return NULL;
	}
	w->helper = helper_link_new(config_path);
	helper_link_set_lost_func(w->helper, on_helper_lost, w);
	w->supervisor = vm_channel_new(supervisor_fd, "supervisor", on_supervisor_message,
				       on_supervisor_closed, w);

	/* Whatever a previous instance left is cleaned before we say READY. */
	if (slot->mode == VM_MODE_LEGACY)
		nbdkit_remove_stale(slot); /* the socket is ours in Legacy mode */
	w->share_mounted = !known_clean; /* maybe: unmounting is harmless */
	w->connected = nbd_device_size(w->dev) > 0; /* checked whatever we are told */
	w->busy = TRUE;
	w->op = OP_STARTUP;
	w->gadget_maybe_stale = !known_clean;
	worker_advance(w);
	return g_steal_pointer(&w);
}

gboolean worker_left_clean(Worker *w)
{
	return !w->busy && !w->teardown_failed;
}

void worker_free(Worker *w)
{
	if (!w)
		return;
	if (w->detecting)
		g_cancellable_cancel(w->detecting);
	g_clear_object(&w->detecting);
	if (w->stop_timer)
		g_source_remove(w->stop_timer);
	if (w->reading)
		g_cancellable_cancel(w->reading);
	g_clear_object(&w->reading);
	if (w->cred_fd >= 0)
		close(w->cred_fd);
	g_clear_pointer(&w->child, child_free);
	g_clear_pointer(&w->server, nbdkit_free);
	vm_credentials_free(g_steal_pointer(&w->creds));
	g_free(w->url);
	vm_image_url_clear(&w->source);
	if (w->share_op)
		g_cancellable_cancel(w->share_op);
	g_clear_object(&w->share_op);
	g_clear_pointer(&w->helper, helper_link_free);
	g_clear_pointer(&w->supervisor, vm_channel_free);
	g_clear_pointer(&w->dev, nbd_device_free);
	g_free(w);
}
