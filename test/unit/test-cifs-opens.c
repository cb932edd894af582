/* SPDX-License-Identifier: Apache-2.0 */
/* What /proc/fs/cifs/open_files and Stats say the kernel still does for files
 * nobody has open: files of dead processes, closes on their way. */
#include <gio/gio.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "worker/cifs_opens.h"

static pid_t child_that_exits(void)
{
	pid_t pid = fork();

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0)
		_exit(0);
	return pid;
}

static void wait_for_zombie(pid_t pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);

	for (int i = 0; i < 500; i++) {
		g_autofree char *stat = NULL;

		g_assert_true(g_file_get_contents(path, &stat, NULL, NULL));
		if (strstr(stat, ") Z "))
			return;
		g_usleep(10000);
	}
	g_assert_not_reached();
}

static void test_dead_and_zombie_openers(void)
{
	pid_t dead = child_that_exits(), zombie;
	g_autofree char *text = NULL;

	g_assert_cmpint(waitpid(dead, NULL, 0), ==, dead);
	zombie = child_that_exits();
	wait_for_zombie(zombie);
	/* the kernel's format (Linux 6.1), our own (live) pid, a dead one, a zombie,
	 * a file name with spaces, and lines that are not entries */
	text = g_strdup_printf("# Version:1\n"
			       "# Format:\n"
			       "# <tree id> <ses id> <persistent fid> <flags> <count> <pid> <uid> <filename>\n"
			       "0x2e22f545 0xbcbdb192 0xea3def51 0x8000 16 %d 0 big.img\n"
			       "0xa985f883 0xc8fe6171 0xe227770b 0x8000 14 %d 0 big.img\n"
			       "0xa985f883 0xc8fe6171 0xe227770c 0x8000 1 %d 0 my image.iso\n"
			       "garbage\n"
			       "\n",
			       (int)getpid(), (int)dead, (int)zombie);
	g_assert_cmpuint(cifs_leftovers_parse(text, "").dead_opens, ==, 2);
	g_assert_cmpint(waitpid(zombie, NULL, 0), ==, zombie);
}

static void test_live_openers_only(void)
{
	g_autofree char *text = g_strdup_printf("# Version:1\n"
						"0x1 0x2 0x3 0x8000 1 %d 0 a.img\n"
						"0x1 0x2 0x4 0x8000 1 1 0 b.img\n",
						(int)getpid());

	g_assert_cmpuint(cifs_leftovers_parse(text, "").dead_opens, ==, 0);
	g_assert_cmpuint(cifs_leftovers_parse("", "").dead_opens, ==, 0);
}

/* Stats as Linux 6.1 writes it (abridged), with `mids` requests in flight and
 * the second share's counts */
static char *stats(int mids, int local, int remote)
{
	return g_strdup_printf("Resources in use\n"
			       "CIFS Session: 1\n"
			       "Share (unique mount targets): 3\n"
			       "Operations (MIDs): %d\n"
			       "\n"
			       "0 session 0 share reconnects\n"
			       "Total vfs operations: 41 maximum at one time: 3\n"
			       "\n"
			       "Max requests in flight: 9\n"
			       "\n"
			       "1) \\\\127.0.0.1\\images\n"
			       "SMBs: 120\n"
			       "Open files: 2 total (local), 2 open on server\n"
			       "Closes: 5 total 0 failed\n"
			       "\n"
			       "2) \\\\images.test\\iso\n"
			       "SMBs: 80\n"
			       "Open files: %d total (local), %d open on server\n"
			       "Closes: 9 total 0 failed\n",
			       mids, local, remote);
}

static void test_closes_on_their_way(void)
{
	g_autofree char *closing = stats(1, 0, 1);
	g_autofree char *two = stats(3, 1, 3);
	g_autofree char *steady = stats(4, 1, 1);
	g_autofree char *answered = stats(0, 0, 1);

	/* a file left the list, its close is in flight */
	g_assert_cmpuint(cifs_leftovers_parse("", closing).closing, ==, 1);
	g_assert_cmpuint(cifs_leftovers_parse("", two).closing, ==, 2);
	/* files open and reading: nothing to wait for */
	g_assert_cmpuint(cifs_leftovers_parse("", steady).closing, ==, 0);
	/* nothing in flight: the close has had its answer (or failed) */
	g_assert_cmpuint(cifs_leftovers_parse("", answered).closing, ==, 0);
	g_assert_cmpuint(cifs_leftovers_parse("", "garbage\nOpen files: x\n").closing, ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cifs-opens/dead-and-zombie", test_dead_and_zombie_openers);
	g_test_add_func("/cifs-opens/live-only", test_live_openers_only);
	g_test_add_func("/cifs-opens/closing", test_closes_on_their_way);
	return g_test_run();
}
