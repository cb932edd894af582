/* SPDX-License-Identifier: Apache-2.0 */
/* Legacy.Mount is called with three signatures: the seed's Mount(s url, b rw,
 * v fd), Mount(s url), and Mount(s url, b rw, h fd) that bmcweb sends since
 * 2025.  D-Bus objects cannot overload a method, so a connection filter
 * rewrites the other two into the seed's form before GDBus dispatches them. */
#pragma once

#include <gio/gio.h>

/* Returns the filter id (for g_dbus_connection_remove_filter). */
guint legacy_compat_install(GDBusConnection *connection);

/* The rewrite itself: a new message, or NULL when m needs none. */
GDBusMessage *legacy_compat_rewrite(GDBusMessage *m);
