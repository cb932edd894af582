/* SPDX-License-Identifier: Apache-2.0 */
/* The service: bus name, ObjectManager, slots. */
#include "supervisor/service.h"

#include "common/paths.h"
#include "supervisor/legacy_compat.h"
#include "supervisor/slot.h"

#define BUS_NAME "xyz.openbmc_project.VirtualMedia"
#define OBJECT_ROOT "/xyz/openbmc_project/VirtualMedia"

/* A worker's cleanup takes seconds (its child stops in three stages of 3 s at
 * most); one that is stuck (a dead share's unmount, the kernel in D state)
 * must not keep the service from stopping: it is killed, and if even that
 * does not end it, left behind.  Below the unit's TimeoutStopSec=60. */
#define STOP_TIMEOUT_SECONDS 25
#define STOP_KILL_GRACE_SECONDS 5

struct _Service {
	struct vm_config *cfg;
	char *config_path;
	char *worker_sockets;
	GMainLoop *loop;
	GDBusConnection *bus;
	GDBusObjectManagerServer *manager;
	GPtrArray *slots;
	guint name_id;
	guint filter_id;
	guint running; /* slots whose worker is still to exit during a stop */
	guint stop_timer;
	gboolean stopping;
	gboolean forced; /* a worker had to be killed or left behind */
};

static void on_name_acquired(GDBusConnection *c, const char *name, gpointer data)
{
	g_message("serving %s", name);
}

static void on_name_lost(GDBusConnection *c, const char *name, gpointer data)
{
	Service *svc = data;

	g_warning("lost or could not own the name %s: stopping", name);
	service_stop(svc);
}

Service *service_new(struct vm_config *cfg, const char *config_path, const char *worker_sockets,
		     GMainLoop *loop)
{
	Service *svc = g_new0(Service, 1);

	svc->cfg = cfg;
	svc->config_path = g_strdup(config_path);
	svc->worker_sockets = g_strdup(worker_sockets);
	svc->loop = g_main_loop_ref(loop);
	svc->slots = g_ptr_array_new_with_free_func((GDestroyNotify)slot_free);
	return svc;
}

gboolean service_start(Service *svc, GError **error)
{
	g_autofree char *program = svc->worker_sockets ? NULL : vm_find_program("vmedia-worker");
	struct worker_launch worker = {
		.program = program,
		.config_path = svc->config_path,
		.socket_dir = svc->worker_sockets,
	};

	svc->bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, error);
	if (!svc->bus)
		return FALSE;
	g_dbus_connection_set_exit_on_close(svc->bus, FALSE);
	svc->filter_id = legacy_compat_install(svc->bus);

	svc->manager = g_dbus_object_manager_server_new(OBJECT_ROOT);
	for (size_t i = 0; i < svc->cfg->n_slots; i++) {
		Slot *s = slot_new(&svc->cfg->slots[i], &worker, svc->manager);
		g_ptr_array_add(svc->slots, s);
	}
	g_dbus_object_manager_server_set_connection(svc->manager, svc->bus);
	for (guint i = 0; i < svc->slots->len; i++)
		slot_start(g_ptr_array_index(svc->slots, i));

	/* Own the name last: a client that sees it finds every object there. */
	svc->name_id = g_bus_own_name_on_connection(svc->bus, BUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE,
						    on_name_acquired, on_name_lost, svc, NULL);
	return TRUE;
}

static void on_slot_stopped(gpointer slot, gpointer data)
{
	Service *svc = data;

	if (--svc->running == 0) {
		g_message("all slots are clean: exiting");
		g_clear_handle_id(&svc->stop_timer, g_source_remove);
		g_main_loop_quit(svc->loop);
	}
}

static gboolean on_stop_given_up(gpointer data)
{
	Service *svc = data;

	svc->stop_timer = 0;
	/* running: the slots not yet stopped (service_stop() counted itself out) */
	g_critical("%u workers did not exit even when killed: exiting without them",
		   svc->running);
	g_main_loop_quit(svc->loop);
	return G_SOURCE_REMOVE;
}

static gboolean on_stop_timeout(gpointer data)
{
	Service *svc = data;

	svc->forced = TRUE;
	g_warning("the workers did not clean up within %d s: killing them", STOP_TIMEOUT_SECONDS);
	svc->stop_timer = g_timeout_add_seconds(STOP_KILL_GRACE_SECONDS, on_stop_given_up, svc);
	for (guint i = 0; i < svc->slots->len; i++)
		slot_stop_now(g_ptr_array_index(svc->slots, i));
	return G_SOURCE_REMOVE;
}

void service_stop(Service *svc)
{
	if (svc->stopping)
		return;
	svc->stopping = TRUE;
	g_message("stopping: the workers clean up their slots");
	if (svc->name_id)
		g_bus_unown_name(svc->name_id);
	svc->name_id = 0;
	svc->running = svc->slots->len + 1;
	svc->stop_timer = g_timeout_add_seconds(STOP_TIMEOUT_SECONDS, on_stop_timeout, svc);
	for (guint i = 0; i < svc->slots->len; i++)
		slot_stop(g_ptr_array_index(svc->slots, i), on_slot_stopped, svc);
	on_slot_stopped(NULL, svc);
}

gboolean service_stopped_cleanly(Service *svc)
{
	return !svc->forced;
}

void service_free(Service *svc)
{
	if (!svc)
		return;
	if (svc->name_id)
		g_bus_unown_name(svc->name_id);
	g_clear_handle_id(&svc->stop_timer, g_source_remove);
	g_ptr_array_unref(svc->slots);
	if (svc->bus && svc->filter_id)
		g_dbus_connection_remove_filter(svc->bus, svc->filter_id);
	g_clear_object(&svc->manager);
	g_clear_object(&svc->bus);
	g_main_loop_unref(svc->loop);
	g_free(svc->config_path);
	g_free(svc->worker_sockets);
	g_free(svc->cfg);
	g_free(svc);
}
