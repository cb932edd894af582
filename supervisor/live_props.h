/* SPDX-License-Identifier: Apache-2.0 */
/* D-Bus skeletons whose some properties are computed when they are read
 * (Get, GetAll, GetManagedObjects) instead of being stored: the inactivity
 * countdown is a deadline and the I/O counters live in /sys, so a stored copy
 * would have to be refreshed every second to stay right.  Their changes are
 * announced by live_props_announce(), when the caller sees fit. */
#pragma once

#include "vm-dbus.h"

/* The property's current value (a new floating GVariant), or NULL for the
 * skeleton's stored one. */
typedef GVariant *(*LivePropFunc)(const char *property, gpointer user_data);

VmDbusMountPoint *live_mount_point_new(LivePropFunc get, gpointer user_data);
VmDbusStats *live_stats_new(LivePropFunc get, gpointer user_data);

/* PropertiesChanged with the current values of the NULL-terminated props. */
void live_props_announce(gpointer skeleton, const char *const *props);
