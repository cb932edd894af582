/* SPDX-License-Identifier: Apache-2.0 */
/* The Landlock sandbox of nbdkit: see sandbox.h. */
#include "worker/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FS_FILE (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
		 LANDLOCK_ACCESS_FS_READ_FILE)
#define FS_ALL_V1 ((LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1)
#define R	(LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define RX	(R | LANDLOCK_ACCESS_FS_EXECUTE)
#define RW	(LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE)
/* a directory where files (a pid file, a socket, a cache) come and go */
#define SCRATCH (R | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG | \
		 LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_REMOVE_FILE)

static int abi_version(void)
{
	return (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
}

/* Allows access beneath path (or to the file path); a path that does not
 * exist is no error: there is nothing to allow. */
static int allow(int ruleset, const char *path, __u64 access)
{
	struct landlock_path_beneath_attr rule = { .allowed_access = access };
	struct stat st;
	int r = 0;

	rule.parent_fd = open(path, O_PATH | O_CLOEXEC);
	if (rule.parent_fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(rule.parent_fd, &st) == 0 && !S_ISDIR(st.st_mode))
		rule.allowed_access &= FS_FILE;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) < 0)
		r = -errno;
	close(rule.parent_fd);
	return r;
}

int sandbox_nbdkit(const struct vm_slot_config *slot, const char *rundir, const char *image,
		   gboolean rw)
{
	struct landlock_ruleset_attr attr = { .handled_access_fs = FS_ALL_V1 };
	g_autofree char *socket_dir = g_path_get_dirname(slot->unix_socket);
	const struct {
		const char *path;
		__u64 access;
	} rules[] = {
		{ "/usr", RX }, { "/lib", RX }, { "/lib64", RX }, { "/bin", RX }, { "/sbin", RX },
		{ "/etc", R }, /* CA certificates, hosts, resolv.conf, nsswitch */
		{ "/run/systemd/resolve", R },
		{ "/proc", R },
		{ "/sys/devices/system/cpu", R },
		{ "/dev/null", RW }, { "/dev/zero", R }, { "/dev/random", R }, { "/dev/urandom", R },
		{ "/var/tmp", SCRATCH }, /* filters' temporary files */
		{ rundir, SCRATCH },
		{ socket_dir, SCRATCH },
		{ slot->ca_file[0] ? slot->ca_file : NULL, R },
		{ slot->ca_path[0] ? slot->ca_path : NULL, R },
		{ image, rw ? RW : LANDLOCK_ACCESS_FS_READ_FILE },
	};
	int ruleset, abi = abi_version(), r;

	if (abi < 1) {
		g_message("%s: no Landlock in this kernel: nbdkit runs without its sandbox",
			  slot->name);
		return -1;
	}
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
	if (ruleset < 0) {
		g_warning("%s: landlock_create_ruleset: %s", slot->name, g_strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < G_N_ELEMENTS(rules); i++) {
		if (rules[i].path && (r = allow(ruleset, rules[i].path, rules[i].access)) < 0) {
			g_warning("%s: sandbox: cannot allow %s: %s", slot->name, rules[i].path,
				  g_strerror(-r));
			close(ruleset);
			return -1;
		}
	}
	return ruleset;
}

int sandbox_enter(int ruleset)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	if (ruleset >= 0 && syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
		return -1;
	return 0;
}
