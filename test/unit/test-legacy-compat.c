/* SPDX-License-Identifier: Apache-2.0 */
/* Legacy.Mount's three signatures all reach the handler as the seed's (sbv). */
#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <unistd.h>

#include "supervisor/legacy_compat.h"

static GDBusMessage *call(const char *member, GVariant *body)
{
	GDBusMessage *m = g_dbus_message_new_method_call(
		"xyz.openbmc_project.VirtualMedia", "/xyz/openbmc_project/VirtualMedia/Legacy/Slot_2",
		"xyz.openbmc_project.VirtualMedia.Legacy", member);
	g_dbus_message_set_body(m, body);
	return m;
}

static void test_one_argument(void)
{
	g_autoptr(GDBusMessage) m = call("Mount", g_variant_new("(s)", "https://h/a.iso"));
	g_autoptr(GDBusMessage) r = legacy_compat_rewrite(m);
	g_autoptr(GVariant) fd = NULL;
	const char *url;
	gboolean rw;

	g_assert_nonnull(r);
	g_assert_cmpstr(g_dbus_message_get_signature(r), ==, "sbv");
	g_variant_get(g_dbus_message_get_body(r), "(&sbv)", &url, &rw, &fd);
	g_assert_cmpstr(url, ==, "https://h/a.iso");
	g_assert_false(rw);
	g_assert_true(g_variant_is_of_type(fd, G_VARIANT_TYPE_INT32));
	g_assert_cmpint(g_variant_get_int32(fd), ==, -1);
}

static void test_bare_fd(void)
{
	g_autoptr(GDBusMessage) m = call("Mount", g_variant_new("(sbh)", "smb://h/s/a.iso", TRUE, 0));
	g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
	g_autoptr(GDBusMessage) r = NULL;
	g_autoptr(GVariant) fd = NULL;
	const char *url;
	gboolean rw;
	int p[2];

	g_assert_no_errno(pipe(p));
	g_assert_cmpint(g_unix_fd_list_append(fds, p[0], NULL), ==, 0);
	close(p[0]);
	close(p[1]);
	g_dbus_message_set_unix_fd_list(m, fds);

	r = legacy_compat_rewrite(m);
	g_assert_nonnull(r);
	g_assert_cmpstr(g_dbus_message_get_signature(r), ==, "sbv");
	g_variant_get(g_dbus_message_get_body(r), "(&sbv)", &url, &rw, &fd);
	g_assert_true(rw);
	g_assert_true(g_variant_is_of_type(fd, G_VARIANT_TYPE_HANDLE));
	g_assert_cmpint(g_variant_get_handle(fd), ==, 0);
	/* the fd itself travels on */
	g_assert_nonnull(g_dbus_message_get_unix_fd_list(r));
	g_assert_cmpint(g_unix_fd_list_get_length(g_dbus_message_get_unix_fd_list(r)), ==, 1);
}

static void test_left_alone(void)
{
	g_autoptr(GDBusMessage) seed = call("Mount", g_variant_new("(sbv)", "https://h/a.iso", FALSE,
								  g_variant_new_int32(-1)));
	g_autoptr(GDBusMessage) wrong = call("Mount", g_variant_new("(i)", 3));
	g_autoptr(GDBusMessage) other = call("Unmount", g_variant_new("(s)", "x"));

	g_assert_null(legacy_compat_rewrite(seed));
	g_assert_null(legacy_compat_rewrite(wrong)); /* GDBus answers InvalidArgs */
	g_assert_null(legacy_compat_rewrite(other));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/legacy-compat/one-argument", test_one_argument);
	g_test_add_func("/legacy-compat/bare-fd", test_bare_fd);
	g_test_add_func("/legacy-compat/left-alone", test_left_alone);
	return g_test_run();
}
