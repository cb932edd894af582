/* SPDX-License-Identifier: Apache-2.0 */
/* The service: the bus name, the ObjectManager and one Slot per configured slot. */
#pragma once

#include <gio/gio.h>

#include "common/config.h"

typedef struct _Service Service;

/* Takes the configuration; quits loop when the name is lost or after a stop.
 * worker_sockets: NULL to spawn the workers, or the directory of their
 * systemd sockets (see worker_proc.h). */
Service *service_new(struct vm_config *cfg, const char *config_path, const char *worker_sockets,
		     GMainLoop *loop);
/* Connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS is honoured) and starts. */
gboolean service_start(Service *svc, GError **error);
/* Stops every worker (they clean up), then quits the loop; a worker that
 * takes too long is killed. */
void service_stop(Service *svc);
/* After the loop: FALSE if a worker had to be killed during the stop. */
gboolean service_stopped_cleanly(Service *svc);
void service_free(Service *svc);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Service, service_free)
