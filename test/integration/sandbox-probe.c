/* SPDX-License-Identifier: Apache-2.0 */
/* sandbox-probe: enters the sandbox the worker gives nbdkit for a slot, then
 * tries to open each PATH and prints "PATH ok" or "PATH <errno name>".
 * Used by test_sandbox.py inside the virtual BMC (which has Landlock).
 *
 *   sandbox-probe SOCKET RUNDIR IMAGE PATH...
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "worker/sandbox.h"

int main(int argc, char **argv)
{
	struct vm_slot_config slot = { .name = "probe" };
	int ruleset;

	if (argc < 5)
		return 2;
	snprintf(slot.unix_socket, sizeof slot.unix_socket, "%s", argv[1]);
	ruleset = sandbox_nbdkit(&slot, argv[2], argv[3], FALSE);
	if (ruleset < 0 || sandbox_enter(ruleset) < 0) {
		printf("no sandbox\n");
		return 1;
	}
	for (int i = 4; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);

		printf("%s %s\n", argv[i], fd >= 0 ? "ok" : strerrorname_np(errno));
		if (fd >= 0)
			close(fd);
	}
	return 0;
}
