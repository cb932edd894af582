/* SPDX-License-Identifier: Apache-2.0 */
/* One slot: its D-Bus object, state machine, watchdog and worker. */
#include "supervisor/slot.h"

#include <errno.h>
#include <string.h>

#include <gio/gunixfdlist.h>
#include <unistd.h>

#include "common/image_url.h"
#include "supervisor/activity.h"
#include "supervisor/error.h"
#include "supervisor/live_props.h"
#include "supervisor/slot_state.h"
#include "supervisor/worker_proc.h"
#include "vm-dbus.h"

#define OBJECT_ROOT "/xyz/openbmc_project/VirtualMedia"
/* The seed design's watchdog: an operation gets the slot's Timeout plus this. */
#define WATCHDOG_EXTRA_SECONDS 5

struct _Slot {
	struct vm_slot_config cfg;
	enum slot_state state;
	int pending_error; /* reported by the next Completion instead of the event's */
	guint watchdog;
	Activity *activity; /* the host's I/O and the inactivity deadline, while mounted */

	GDBusObjectManagerServer *manager;
	VmDbusObjectSkeleton *object;
	VmDbusProcess *process;
	VmDbusMountPoint *mount_point;
	VmDbusStats *stats;
	VmDbusProxy *proxy;   /* Proxy slots */
	VmDbusLegacy *legacy; /* Legacy slots */
	gboolean legacy_mode;

	/* the Legacy mount being started */
	char *url;
	gboolean rw;
	int cred_fd;        /* passed on to the worker, -1 for none */
	int request_error;  /* a refused request: Completion(this) instead */

	WorkerProc *worker;
	GFunc stopped;
	gpointer stopped_data;
};

/* What an event brings besides its type. */
struct slot_event_data {
	int error;     /* positive errno, 0 for success */
	int exit_code; /* the child's, -1 when none */
	const char *image_url;
	guint media;
	gboolean read_only;
};

static void slot_handle(Slot *s, enum slot_event ev, const struct slot_event_data *d,
			GDBusMethodInvocation *inv);

static const char *media_type_name(guint media)
{
	/* as Redfish's VirtualMedia MediaTypes name them */
	return media == VM_MEDIA_CDROM ? "CD" : "USBStick";
}

static void emit_completion(Slot *s, int result)
{
	g_message("%s: Completion(%d)%s%s", s->cfg.name, result, result ? ": " : "",
		  result ? g_strerror(result) : "");
	if (s->proxy)
		vm_dbus_proxy_emit_completion(s->proxy, result);
	else
		vm_dbus_legacy_emit_completion(s->legacy, result);
}

static gboolean on_watchdog(gpointer data)
{
	Slot *s = data;

	s->watchdog = 0;
	g_warning("%s: no answer from the worker after %u s", s->cfg.name,
		  s->cfg.timeout + WATCHDOG_EXTRA_SECONDS);
	slot_handle(s, SLOT_EV_WATCHDOG, &(struct slot_event_data){ .exit_code = -1 }, NULL);
	return G_SOURCE_REMOVE;
}

static void watchdog_set(Slot *s, gboolean on)
{
	if (s->watchdog)
		g_source_remove(s->watchdog);
	s->watchdog = on ? g_timeout_add_seconds(s->cfg.timeout + WATCHDOG_EXTRA_SECONDS,
						 on_watchdog, s)
			 : 0;
}

static const char *const stats_props[] = { "ReadIO", "WriteIO", NULL };
static const char *const countdown_props[] = { "RemainingInactivityTimeout", NULL };

/* RemainingInactivityTimeout, ReadIO and WriteIO: as they are when read. */
static GVariant *live_prop(const char *property, gpointer data)
{
	Slot *s = data;
	guint64 io[2];

	if (strcmp(property, "RemainingInactivityTimeout") == 0)
		return g_variant_new_uint16(MIN(activity_remaining(s->activity), G_MAXUINT16));
	if (strcmp(property, "ReadIO") != 0 && strcmp(property, "WriteIO") != 0)
		return NULL;
	activity_counts(s->activity, &io[0], &io[1]);
	return g_variant_new_uint64(property[0] == 'R' ? io[0] : io[1]);
}

static void on_activity(gpointer data)
{
	Slot *s = data;

	live_props_announce(s->stats, stats_props);
	if (s->cfg.inactivity_timeout)
		live_props_announce(s->mount_point, countdown_props);
}

static void on_inactive(gpointer data)
{
	Slot *s = data;

	live_props_announce(s->mount_point, countdown_props); /* the countdown has ended: 0 */
	g_message("%s: the host did no I/O for %u s: unmounting", s->cfg.name,
		  s->cfg.inactivity_timeout);
	slot_handle(s, SLOT_EV_INACTIVE, &(struct slot_event_data){ .exit_code = -1 }, NULL);
}

/* The counts and the countdown run while the host has the media. */
static void activity_follow_state(Slot *s, enum slot_state old)
{
	gboolean was = old == SLOT_ACTIVE || old == SLOT_DEACTIVATING;
	gboolean is = s->state == SLOT_ACTIVE || s->state == SLOT_DEACTIVATING;
	guint64 io[2];
	guint left;

	if (is && !was) {
		activity_start(s->activity);
		if (s->cfg.inactivity_timeout) /* the countdown starts */
			live_props_announce(s->mount_point, countdown_props);
	} else if (was && !is) {
		activity_counts(s->activity, &io[0], &io[1]);
		left = activity_remaining(s->activity);
		activity_stop(s->activity);
		if (io[0] || io[1]) /* back to 0 */
			live_props_announce(s->stats, stats_props);
		if (left) /* the countdown has ended */
			live_props_announce(s->mount_point, countdown_props);
	}
}

static void send_request(Slot *s, uint32_t type)
{
	struct vm_msg m;

	vm_msg_init(&m, type);
	/* A failed send means the worker is going: WORKER_GONE follows. */
	worker_proc_send(s->worker, &m);
}

static gboolean on_refused_request(gpointer data)
{
	Slot *s = data;
	struct slot_event_data d = { .error = s->request_error, .exit_code = -1 };

	s->request_error = 0;
	slot_handle(s, SLOT_EV_MOUNT_FAILED, &d, NULL);
	return G_SOURCE_REMOVE;
}

static void clear_request(Slot *s)
{
	g_clear_pointer(&s->url, g_free);
	if (s->cred_fd >= 0)
		close(s->cred_fd);
	s->cred_fd = -1;
}

/* A Mount's worker: none for a refused request. */
static void start_worker(Slot *s)
{
	if (s->request_error) {
		/* Mount answered "started"; the refusal comes as its Completion */
		g_idle_add(on_refused_request, s);
		clear_request(s);
		return;
	}
	worker_proc_start(s->worker);
}

static void send_mount(Slot *s)
{
	struct vm_msg m;

	if (!s->legacy_mode) {
		send_request(s, VM_MSG_MOUNT_PROXY);
		return;
	}
	vm_msg_init(&m, VM_MSG_MOUNT_LEGACY);
	vm_msg_put_str(&m, s->url);
	vm_msg_put_u32(&m, s->rw);
	m.fd = s->cred_fd;
	worker_proc_send(s->worker, &m);
	clear_request(s);
}

/* The properties that follow from the state and the event. */
static void update_properties(Slot *s, enum slot_event ev, const struct slot_event_data *d)
{
	gboolean active = s->state == SLOT_ACTIVE || s->state == SLOT_DEACTIVATING;

	vm_dbus_process_set_active(s->process, active);
	if (ev == SLOT_EV_MOUNT)
		vm_dbus_process_set_exit_code(s->process, -1);
	else if (d->exit_code >= 0)
		vm_dbus_process_set_exit_code(s->process, d->exit_code);

	if (ev == SLOT_EV_MOUNTED && s->state == SLOT_ACTIVE) {
		vm_dbus_mount_point_set_image_url(s->mount_point, d->image_url ? d->image_url : "");
		vm_dbus_mount_point_set_write_protected(s->mount_point, d->read_only);
		vm_dbus_mount_point_set_media_type(s->mount_point, media_type_name(d->media));
	} else if (!active && s->state != SLOT_ACTIVATING) {
		vm_dbus_mount_point_set_image_url(s->mount_point, "");
		vm_dbus_mount_point_set_write_protected(s->mount_point, TRUE);
		vm_dbus_mount_point_set_media_type(s->mount_point, "");
	}
}

static void reject(Slot *s, GDBusMethodInvocation *inv, int error)
{
	const char *why;

	switch (s->state) {
	case SLOT_READY: why = "nothing is mounted"; break;
	case SLOT_ACTIVE: why = "an image is mounted: unmount it first"; break;
	case SLOT_UNAVAILABLE: why = "the slot is being cleaned up"; break;
	case SLOT_STARTING: why = "a Mount is under way"; break;
	default: why = "an operation is under way"; break;
	}
	g_dbus_method_invocation_return_error(inv, VM_ERROR, vm_error_from_errno(error), "%s: %s",
					      s->cfg.name, why);
}

/* The operation is over: its Completion, with the error an abort noted, if any,
 * before the event's own. */
static void complete(Slot *s, int error)
{
	watchdog_set(s, FALSE);
	emit_completion(s, s->pending_error ? s->pending_error : error);
	s->pending_error = 0;
}

/* Look the event up in the table and carry out the action. */
static void slot_handle(Slot *s, enum slot_event ev, const struct slot_event_data *d,
			GDBusMethodInvocation *inv)
{
	struct slot_transition t = slot_state_step(s->state, ev);
	enum slot_state old = s->state;

	if (t.action == SLOT_ACT_REJECT) {
		g_message("%s: %s refused while %s", s->cfg.name, slot_event_to_str(ev),
			  slot_state_to_str(s->state));
		reject(s, inv, t.error);
		return;
	}
	s->state = t.next;
	if (old != s->state)
		g_message("%s: %s -> %s (%s)", s->cfg.name, slot_state_to_str(old),
			  slot_state_to_str(s->state), slot_event_to_str(ev));

	switch (t.action) {
	case SLOT_ACT_NONE:
	case SLOT_ACT_REJECT:
		break;
	case SLOT_ACT_START_WORKER:
		s->pending_error = 0;
		watchdog_set(s, TRUE);
		start_worker(s);
		break;
	case SLOT_ACT_START_MOUNT:
		send_mount(s);
		break;
	case SLOT_ACT_START_UNMOUNT:
		s->pending_error = 0;
		watchdog_set(s, TRUE);
		send_request(s, VM_MSG_UNMOUNT);
		break;
	case SLOT_ACT_COMPLETE:
		complete(s, d->error);
		break;
	case SLOT_ACT_FINISH:
		complete(s, d->error);
		worker_proc_retire(s->worker);
		break;
	case SLOT_ACT_RETIRE:
		worker_proc_retire(s->worker);
		break;
	case SLOT_ACT_ABORT:
		s->pending_error = t.error;
		watchdog_set(s, TRUE);
		send_request(s, VM_MSG_UNMOUNT);
		break;
	case SLOT_ACT_KILL_WORKER:
		watchdog_set(s, FALSE);
		emit_completion(s, t.error);
		s->pending_error = 0;
		worker_proc_kill(s->worker);
		break;
	}
	update_properties(s, ev, d);
	activity_follow_state(s, old);
	if (inv) /* Mount and Unmount answer "started" */
		g_dbus_method_invocation_return_value(inv, g_variant_new("(b)", TRUE));
}

/* --- the worker ------------------------------------------------------------------- */

static void on_worker_message(struct vm_msg *m, gpointer data)
{
	Slot *s = data;
	struct slot_event_data d = { .exit_code = -1 };
	enum slot_event ev;
	struct vm_cursor c;

	vm_cursor_init(&c, m);
	switch (m->type) {
	case VM_MSG_READY:
		if (vm_cursor_u32(&c) != VM_MSG_VERSION) {
			g_critical("%s: the worker speaks another protocol version", s->cfg.name);
			return;
		}
		ev = SLOT_EV_WORKER_READY;
		break;
	case VM_MSG_MOUNTED:
		d.error = vm_cursor_i32(&c);
		d.exit_code = vm_cursor_i32(&c);
		d.media = vm_cursor_u32(&c);
		d.read_only = vm_cursor_u32(&c) != 0;
		d.image_url = vm_cursor_str(&c);
		ev = d.error ? SLOT_EV_MOUNT_FAILED : SLOT_EV_MOUNTED;
		break;
	case VM_MSG_UNMOUNTED:
	case VM_MSG_LOST:
		d.error = vm_cursor_i32(&c);
		d.exit_code = vm_cursor_i32(&c);
		ev = m->type == VM_MSG_LOST ? SLOT_EV_LOST : SLOT_EV_UNMOUNTED;
		break;
	default:
		ev = SLOT_EVENT_MAX;
		break;
	}
	if (ev == SLOT_EVENT_MAX || !vm_cursor_end(&c) || m->fd >= 0 || d.error < 0) {
		g_critical("%s: malformed %s from the worker", s->cfg.name,
			   vm_msg_type_to_str(m->type));
		worker_proc_kill(s->worker);
		return;
	}
	slot_handle(s, ev, &d, NULL);
}

static void on_worker_gone(gpointer data)
{
	Slot *s = data;

	slot_handle(s, SLOT_EV_WORKER_GONE,
		    &(struct slot_event_data){ .error = ECONNRESET, .exit_code = -1 }, NULL);
	if (s->stopped) {
		GFunc done = s->stopped;
		s->stopped = NULL;
		done(s, s->stopped_data);
	}
}

/* --- D-Bus methods ------------------------------------------------------------------ */

static gboolean on_proxy_mount(VmDbusProxy *iface, GDBusMethodInvocation *inv, gpointer data)
{
	slot_handle(data, SLOT_EV_MOUNT, &(struct slot_event_data){ .exit_code = -1 }, inv);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean on_unmount(GDBusInterfaceSkeleton *iface, GDBusMethodInvocation *inv, gpointer data)
{
	slot_handle(data, SLOT_EV_UNMOUNT, &(struct slot_event_data){ .exit_code = -1 }, inv);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Why a Legacy request cannot be served (an errno for its Completion), or 0. */
static int check_legacy_request(Slot *s, const char *url, gboolean rw, GError **error)
{
	VmImageUrl u;
	int e = 0;

	if (!vm_image_url_parse(url, &u, error))
		return EINVAL;
	if (u.scheme == VM_URL_HTTP && !s->cfg.allow_http) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
			    "plain http:// is refused: use https://, or set AllowHTTP in the configuration");
		e = EINVAL;
	} else if (rw && !vm_url_scheme_is_share(u.scheme)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_READ_ONLY,
			    "an image over http(s) cannot be written: mount it read-only");
		e = EROFS;
	}
	vm_image_url_clear(&u);
	return e;
}

static gboolean on_legacy_mount(VmDbusLegacy *iface, GDBusMethodInvocation *inv, const char *url,
				gboolean rw, GVariant *boxed_fd, gpointer data)
{
	/* the generated code hands "v" arguments over still boxed */
	g_autoptr(GVariant) fd = g_variant_is_of_type(boxed_fd, G_VARIANT_TYPE_VARIANT)
					 ? g_variant_get_variant(boxed_fd)
					 : g_variant_ref(boxed_fd);
	Slot *s = data;
	GUnixFDList *fds = g_dbus_message_get_unix_fd_list(g_dbus_method_invocation_get_message(inv));
	g_autoptr(GError) error = NULL;
	int cred_fd = -1;

	/* the fd: a unix fd (a pipe), or the int -1 for none */
	if (g_variant_is_of_type(fd, G_VARIANT_TYPE_HANDLE)) {
		gint32 index = g_variant_get_handle(fd);

		if (!fds || index < 0 || index >= g_unix_fd_list_get_length(fds) ||
		    (cred_fd = g_unix_fd_list_get(fds, index, NULL)) < 0) {
			g_dbus_method_invocation_return_error(inv, VM_ERROR, VM_ERROR_INVALID_ARGUMENT,
							      "%s: no file descriptor with the call",
							      s->cfg.name);
			return G_DBUS_METHOD_INVOCATION_HANDLED;
		}
	} else if (!g_variant_is_of_type(fd, G_VARIANT_TYPE_INT32) || g_variant_get_int32(fd) != -1) {
		g_dbus_method_invocation_return_error(inv, VM_ERROR, VM_ERROR_INVALID_ARGUMENT,
						      "%s: fd must hold a unix fd or the int32 -1",
						      s->cfg.name);
		return G_DBUS_METHOD_INVOCATION_HANDLED;
	}

	if (slot_state_step(s->state, SLOT_EV_MOUNT).action == SLOT_ACT_REJECT) {
		/* refused as it is: the request in hand (that of a Mount whose
		 * worker is starting) must stay */
		if (cred_fd >= 0)
			close(cred_fd);
		slot_handle(s, SLOT_EV_MOUNT, &(struct slot_event_data){ .exit_code = -1 }, inv);
		return G_DBUS_METHOD_INVOCATION_HANDLED;
	}
	clear_request(s);
	s->request_error = check_legacy_request(s, url, rw, &error);
	if (s->request_error)
		g_warning("%s: Mount refused: %s", s->cfg.name, error->message);
	s->url = g_strdup(url);
	s->rw = rw;
	s->cred_fd = cred_fd;
	slot_handle(s, SLOT_EV_MOUNT, &(struct slot_event_data){ .exit_code = -1 }, inv);
	if (s->state != SLOT_STARTING) /* refused: the request goes nowhere */
		clear_request(s);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* --- life cycle ---------------------------------------------------------------------- */

Slot *slot_new(const struct vm_slot_config *cfg, const struct worker_launch *worker,
	       GDBusObjectManagerServer *manager)
{
	Slot *s = g_new0(Slot, 1);
	g_autofree char *path = NULL;

	s->cfg = *cfg;
	s->state = SLOT_UNAVAILABLE;
	s->legacy_mode = cfg->mode == VM_MODE_LEGACY;
	s->cred_fd = -1;
	s->manager = g_object_ref(manager);

	path = g_strdup_printf(OBJECT_ROOT "/%s/%s", vm_mode_to_str(cfg->mode), cfg->name);
	s->object = vm_dbus_object_skeleton_new(path);

	s->process = vm_dbus_process_skeleton_new();
	vm_dbus_process_set_active(s->process, FALSE);
	vm_dbus_process_set_exit_code(s->process, -1);

	s->activity = activity_new(cfg->nbd_device, cfg->inactivity_timeout, on_activity,
				   on_inactive, s);
	s->mount_point = live_mount_point_new(live_prop, s);
	vm_dbus_mount_point_set_endpoint_id(s->mount_point, cfg->endpoint_id);
	vm_dbus_mount_point_set_mode(s->mount_point, (guchar)cfg->mode);
	vm_dbus_mount_point_set_device(s->mount_point, cfg->nbd_device);
	vm_dbus_mount_point_set_socket(s->mount_point, cfg->unix_socket);
	vm_dbus_mount_point_set_timeout(s->mount_point, (guint16)cfg->timeout);
	vm_dbus_mount_point_set_block_size(s->mount_point, (guint16)cfg->block_size);
	vm_dbus_mount_point_set_image_url(s->mount_point, "");
	vm_dbus_mount_point_set_write_protected(s->mount_point, TRUE);
	vm_dbus_mount_point_set_media_type(s->mount_point, "");

	s->stats = live_stats_new(live_prop, s);

	vm_dbus_object_skeleton_set_process(s->object, s->process);
	vm_dbus_object_skeleton_set_mount_point(s->object, s->mount_point);
	vm_dbus_object_skeleton_set_stats(s->object, s->stats);
	if (cfg->mode == VM_MODE_PROXY) {
		s->proxy = vm_dbus_proxy_skeleton_new();
		g_signal_connect(s->proxy, "handle-mount", G_CALLBACK(on_proxy_mount), s);
		g_signal_connect(s->proxy, "handle-unmount", G_CALLBACK(on_unmount), s);
		vm_dbus_object_skeleton_set_proxy(s->object, s->proxy);
	} else {
		s->legacy = vm_dbus_legacy_skeleton_new();
		g_signal_connect(s->legacy, "handle-mount", G_CALLBACK(on_legacy_mount), s);
		g_signal_connect(s->legacy, "handle-unmount", G_CALLBACK(on_unmount), s);
		vm_dbus_object_skeleton_set_legacy(s->object, s->legacy);
	}
	g_dbus_object_manager_server_export(manager, G_DBUS_OBJECT_SKELETON(s->object));

	s->worker = worker_proc_new(worker, cfg->name, on_worker_message, on_worker_gone, s);
	return s;
}

void slot_start(Slot *s)
{
	worker_proc_start(s->worker);
}

void slot_stop(Slot *s, GFunc done, gpointer user_data)
{
	watchdog_set(s, FALSE);
	activity_stop(s->activity);
	if (worker_proc_stop(s->worker)) {
		s->stopped = done;
		s->stopped_data = user_data;
	} else {
		done(s, user_data);
	}
}

void slot_stop_now(Slot *s)
{
	if (s->stopped)
		worker_proc_kill(s->worker);
}

void slot_free(Slot *s)
{
	if (!s)
		return;
	watchdog_set(s, FALSE);
	g_clear_pointer(&s->activity, activity_free);
	clear_request(s);
	g_clear_pointer(&s->worker, worker_proc_free);
	g_dbus_object_manager_server_unexport(s->manager,
					      g_dbus_object_get_object_path(G_DBUS_OBJECT(s->object)));
	g_clear_object(&s->process);
	g_clear_object(&s->mount_point);
	g_clear_object(&s->stats);
	g_clear_object(&s->proxy);
	g_clear_object(&s->legacy);
	g_clear_object(&s->object);
	g_clear_object(&s->manager);
	g_free(s);
}
