/* SPDX-License-Identifier: Apache-2.0 */
/* Skeletons with properties computed when read: see live_props.h.
 *
 * Subclasses of the generated skeletons that override the two ways GDBus reads
 * properties: the vtable's get_property (Get) and get_properties (GetAll and
 * the object manager's GetManagedObjects).  What is not ours goes to the
 * generated code. */
#include "supervisor/live_props.h"

struct live {
	LivePropFunc get;
	gpointer data;
};

static GQuark live_quark(void)
{
	return g_quark_from_static_string("vm-live-props");
}

static GVariant *live_value(gpointer skeleton, const char *property)
{
	struct live *l = g_object_get_qdata(skeleton, live_quark());

	return l ? l->get(property, l->data) : NULL;
}

static GDBusInterfaceSkeletonClass *parent_class_of(gpointer skeleton)
{
	return g_type_class_peek_parent(G_OBJECT_GET_CLASS(skeleton));
}

static GVariant *live_get_property(GDBusConnection *conn, const char *sender, const char *path,
				   const char *iface, const char *property, GError **error,
				   gpointer skeleton)
{
	GVariant *v = live_value(skeleton, property);

	if (v)
		return v;
	return parent_class_of(skeleton)->get_vtable(skeleton)->get_property(
		conn, sender, path, iface, property, error, skeleton);
}

static GVariant *live_get_properties(GDBusInterfaceSkeleton *skeleton)
{
	g_autoptr(GVariant) stored = g_variant_ref_sink(
		parent_class_of(skeleton)->get_properties(skeleton));
	GVariantBuilder b;
	GVariantIter it;
	const char *name;
	GVariant *v;

	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	g_variant_iter_init(&it, stored);
	while (g_variant_iter_next(&it, "{&sv}", &name, &v)) {
		GVariant *live = live_value(skeleton, name);

		g_variant_builder_add(&b, "{sv}", name, live ? live : v);
		g_variant_unref(v);
	}
	return g_variant_builder_end(&b);
}

/* Each subclass's vtable: the generated one with our get_property. */
static GDBusInterfaceVTable *live_get_vtable(GDBusInterfaceSkeleton *skeleton)
{
	return g_type_get_qdata(G_OBJECT_TYPE(skeleton), live_quark());
}

static void live_class_init(GDBusInterfaceSkeletonClass *klass)
{
	GDBusInterfaceSkeletonClass *parent = g_type_class_peek_parent(klass);
	GDBusInterfaceVTable *vtable = g_new0(GDBusInterfaceVTable, 1); /* lives as the class */

	/* the generated get_vtable returns its static table whatever the instance */
	*vtable = *parent->get_vtable(NULL);
	vtable->get_property = live_get_property;
	g_type_set_qdata(G_TYPE_FROM_CLASS(klass), live_quark(), vtable);
	klass->get_vtable = live_get_vtable;
	klass->get_properties = live_get_properties;
}

static gpointer live_new(GType type, LivePropFunc get, gpointer user_data)
{
	gpointer skeleton = g_object_new(type, NULL);
	struct live *l = g_new0(struct live, 1);

	l->get = get;
	l->data = user_data;
	g_object_set_qdata_full(skeleton, live_quark(), l, g_free);
	return skeleton;
}

GType live_mount_point_get_type(void);
GType live_stats_get_type(void);

typedef VmDbusMountPointSkeleton LiveMountPoint;
typedef VmDbusMountPointSkeletonClass LiveMountPointClass;
G_DEFINE_TYPE(LiveMountPoint, live_mount_point, VM_DBUS_TYPE_MOUNT_POINT_SKELETON)
static void live_mount_point_class_init(LiveMountPointClass *klass)
{
	live_class_init(G_DBUS_INTERFACE_SKELETON_CLASS(klass));
}
static void live_mount_point_init(LiveMountPoint *self) {}

typedef VmDbusStatsSkeleton LiveStats;
typedef VmDbusStatsSkeletonClass LiveStatsClass;
G_DEFINE_TYPE(LiveStats, live_stats, VM_DBUS_TYPE_STATS_SKELETON)
static void live_stats_class_init(LiveStatsClass *klass)
{
	live_class_init(G_DBUS_INTERFACE_SKELETON_CLASS(klass));
}
static void live_stats_init(LiveStats *self) {}

VmDbusMountPoint *live_mount_point_new(LivePropFunc get, gpointer user_data)
{
	return live_new(live_mount_point_get_type(), get, user_data);
}

VmDbusStats *live_stats_new(LivePropFunc get, gpointer user_data)
{
	return live_new(live_stats_get_type(), get, user_data);
}

void live_props_announce(gpointer skeleton, const char *const *props)
{
	GDBusInterfaceSkeleton *sk = G_DBUS_INTERFACE_SKELETON(skeleton);
	const char *path = g_dbus_interface_skeleton_get_object_path(sk);
	GList *conns = g_dbus_interface_skeleton_get_connections(sk);
	GVariantBuilder b;
	GVariant *args;

	if (!conns || !path) {
		g_list_free_full(conns, g_object_unref);
		return; /* not exported: nobody to tell */
	}
	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	for (; *props; props++) {
		GVariant *v = live_value(sk, *props);

		if (v)
			g_variant_builder_add(&b, "{sv}", *props, v);
	}
	args = g_variant_ref_sink(g_variant_new("(sa{sv}@as)",
						g_dbus_interface_skeleton_get_info(sk)->name, &b,
						g_variant_new_strv(NULL, 0)));
	for (GList *c = conns; c; c = c->next)
		g_dbus_connection_emit_signal(c->data, NULL, path, "org.freedesktop.DBus.Properties",
					      "PropertiesChanged", args, NULL);
	g_variant_unref(args);
	g_list_free_full(conns, g_object_unref);
}
