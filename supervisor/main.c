/* SPDX-License-Identifier: Apache-2.0 */
/* vmedia-supervisor: the xyz.openbmc_project.VirtualMedia D-Bus service.
 *
 * Serves one D-Bus object per configured slot and runs one worker per slot;
 * the workers do the privileged work.  SIGTERM/SIGINT: every slot is cleaned
 * up (the host's media removed, the NBD devices disconnected) before exiting. */
#include <glib-unix.h>
#include <locale.h>
#include <stdlib.h>

#include "common/config.h"
#include "supervisor/service.h"

/* What in a valid file deserves a word: for --check-config on stderr, at
 * start-up in the log (both go to stderr, which is the journal under systemd). */
static void warn_about(const struct vm_config *cfg, const char *path)
{
	for (size_t i = 0; i < cfg->n_slots; i++)
		if (vm_slot_endpoint_misleads(&cfg->slots[i]))
			g_printerr("vmedia-supervisor: warning: %s: MountPoints.%s.EndpointId: \"%s\" "
				   "on a Legacy slot: bmcweb will show it as a browser (Proxy) slot and "
				   "serve a WebSocket for it; a Legacy slot's EndpointId should be \"\"\n",
				   path, cfg->slots[i].name, cfg->slots[i].endpoint_id);
	if (cfg->has_reference_retry_keys)
		g_printerr("vmedia-supervisor: %s: RetryCount, RetryInterval: accepted from the "
			   "reference service's format; they have no effect here\n", path);
}

static gboolean on_signal(gpointer svc)
{
	service_stop(svc);
	return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
	g_autofree char *config_path = NULL;
	g_autofree char *worker_sockets = NULL;
	gboolean check_only = FALSE, list_slots = FALSE;
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
		  "Configuration file (default " VM_CONFIG_DEFAULT_PATH ", or "
		  SYSCONFDIR "/" VM_CONFIG_REFERENCE_NAME " when only that one exists)", "FILE" },
		{ "check-config", 0, 0, G_OPTION_ARG_NONE, &check_only,
		  "Check the configuration file and exit", NULL },
		{ "list-slots", 0, 0, G_OPTION_ARG_NONE, &list_slots,
		  "Print the configured slots' names, one per line, and exit", NULL },
		{ "worker-sockets", 0, 0, G_OPTION_ARG_FILENAME, &worker_sockets,
		  "Connect to the workers' sockets DIR/SLOT.sock (systemd starts them) "
		  "instead of starting the workers", "DIR" },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- the BMC's Virtual Media service");
	g_autoptr(GError) error = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	g_autoptr(Service) svc = NULL;
	struct vm_config *cfg = g_new0(struct vm_config, 1);
	char err[512];

	setlocale(LC_ALL, "");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		g_printerr("vmedia-supervisor: %s\n", error->message);
		g_free(cfg);
		return 2;
	}
	if (!config_path)
		config_path = vm_config_default_path(SYSCONFDIR);
	if (vm_config_load(config_path, cfg, err, sizeof err) < 0) {
		g_printerr("vmedia-supervisor: invalid configuration: %s\n", err);
		g_free(cfg);
		return 1;
	}
	if (!list_slots || check_only)
		warn_about(cfg, config_path);
	if (check_only || list_slots) {
		for (size_t i = 0; list_slots && i < cfg->n_slots; i++)
			g_print("%s\n", cfg->slots[i].name);
		if (check_only)
			g_print("%s: %zu slots, valid\n", config_path, cfg->n_slots);
		g_free(cfg);
		return 0;
	}

	g_message("configuration: %s (%zu slots)", config_path, cfg->n_slots);
	loop = g_main_loop_new(NULL, FALSE);
	svc = service_new(cfg, config_path, worker_sockets, loop);
	if (!service_start(svc, &error)) {
		g_printerr("vmedia-supervisor: cannot connect to the system bus: %s\n", error->message);
		return 1;
	}
	g_unix_signal_add(SIGTERM, on_signal, svc);
	g_unix_signal_add(SIGINT, on_signal, svc);
	g_main_loop_run(loop);
	return service_stopped_cleanly(svc) ? 0 : 1;
}
