/* SPDX-License-Identifier: Apache-2.0 */
/* Rewrites Legacy.Mount(s) and Legacy.Mount(sbh) into Mount(sbv): see legacy_compat.h. */
#include "supervisor/legacy_compat.h"

#define LEGACY_INTERFACE "xyz.openbmc_project.VirtualMedia.Legacy"

GDBusMessage *legacy_compat_rewrite(GDBusMessage *m)
{
	GVariant *body = g_dbus_message_get_body(m);
	const char *url;
	gboolean rw = FALSE;
	gint32 handle = -1;
	GDBusMessage *copy;
	gboolean with_fd;

	if (g_dbus_message_get_message_type(m) != G_DBUS_MESSAGE_TYPE_METHOD_CALL ||
	    g_strcmp0(g_dbus_message_get_interface(m), LEGACY_INTERFACE) != 0 ||
	    g_strcmp0(g_dbus_message_get_member(m), "Mount") != 0 || !body)
		return NULL;
	if (g_variant_is_of_type(body, G_VARIANT_TYPE("(s)")))
		with_fd = FALSE, g_variant_get(body, "(&s)", &url);
	else if (g_variant_is_of_type(body, G_VARIANT_TYPE("(sbh)")))
		with_fd = TRUE, g_variant_get(body, "(&sbh)", &url, &rw, &handle);
	else
		return NULL; /* the seed's (sbv), or wrong: GDBus answers InvalidArgs */

	copy = g_dbus_message_copy(m, NULL); /* keeps the message's fd list */
	if (!copy)
		return NULL;
	/* (s) means: read-only, no credentials, like (sbv) with the int -1 */
	g_dbus_message_set_body(copy, g_variant_new("(sbv)", url, rw,
						    with_fd ? g_variant_new_handle(handle)
							    : g_variant_new_int32(-1)));
	return copy;
}

/* Runs in GDBus's worker thread: it touches nothing but the message. */
static GDBusMessage *filter(GDBusConnection *c, GDBusMessage *m, gboolean incoming, gpointer data)
{
	GDBusMessage *copy;

	if (!incoming || !(copy = legacy_compat_rewrite(m)))
		return m;
	g_object_unref(m);
	return copy;
}

guint legacy_compat_install(GDBusConnection *connection)
{
	return g_dbus_connection_add_filter(connection, filter, NULL, NULL);
}
