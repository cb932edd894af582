/* SPDX-License-Identifier: Apache-2.0 */
/* The worker's reading of nbd-client's messages. */
#include <errno.h>
#include <glib.h>

#include "worker/nbd_client.h"

static void test_errno_from_text(void)
{
	g_assert_cmpint(vm_errno_from_text("Error: Cannot open NBD: Device or resource busy\n"), ==, EBUSY);
	g_assert_cmpint(vm_errno_from_text("Socket failed: Connection refused"), ==, ECONNREFUSED);
	/* the longest text wins: ENXIO's contains ENODEV's */
	g_assert_cmpint(vm_errno_from_text("x: No such device or address"), ==, ENXIO);
	g_assert_cmpint(vm_errno_from_text("x: No such device"), ==, ENODEV);
	g_assert_cmpint(vm_errno_from_text("Error: CONNECT failed\nExiting."), ==, 0);
	g_assert_cmpint(vm_errno_from_text(""), ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/nbd-client/errno-from-text", test_errno_from_text);
	return g_test_run();
}
