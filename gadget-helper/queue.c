/* SPDX-License-Identifier: Apache-2.0 */
/* The request size of a slot's NBD device: see queue.h. */
#include "gadget-helper/queue.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

int gh_queue_limit(const struct gh_sysfs *fs, const struct vm_slot_config *slot)
{
	/* "/dev/nbdN" (config.c's one spelling): the sysfs name is nbdN */
	const char *sysname = slot->nbd_device + strlen("/dev/");
	_cleanup_close_ int root = -1, dev = -1;
	char kb[16];
	int r, r2;

	snprintf(kb, sizeof kb, "%u", vm_slot_request_kb(slot));
	root = open(fs->block_class, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	/* /sys/block/nbdN is a symlink into /sys/devices: followed */
	dev = openat(root, sysname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	r = gh_attr_write(dev, "queue/max_sectors_kb", kb);
	r2 = gh_attr_write(dev, "queue/read_ahead_kb", kb);
	return r < 0 ? r : r2;
}
