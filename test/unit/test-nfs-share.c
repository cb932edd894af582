/* SPDX-License-Identifier: Apache-2.0 */
/* The mount(2) data of an nfs:// share: what the kernel gets without mount.nfs. */
#include <gio/gio.h>

#include "worker/nfs_share.h"

static void test_options(void)
{
	g_autofree char *a = nfs_mount_options("4.2", "127.0.0.1", -1, 30);
	g_autofree char *b = nfs_mount_options("4.0", "fd00::1", 20490, 3);
	g_autofree char *c = nfs_mount_options("4.1", "10.0.0.1", -1, 3600);

	/* Timeout 30: 3 x 5 s, half of it; no port: the default (2049) */
	g_assert_cmpstr(a, ==, "vers=4.2,addr=127.0.0.1,sec=sys,soft,timeo=50,retrans=2");
	/* never below 1 s a try */
	g_assert_cmpstr(b, ==, "vers=4.0,addr=fd00::1,port=20490,sec=sys,soft,timeo=10,retrans=2");
	/* nor above the kernel's 60 s */
	g_assert_cmpstr(c, ==, "vers=4.1,addr=10.0.0.1,sec=sys,soft,timeo=600,retrans=2");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/nfs/mount-options", test_options);
	return g_test_run();
}
