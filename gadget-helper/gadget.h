/* SPDX-License-Identifier: Apache-2.0 */
/* The USB gadget of one slot in configfs: the only code of the service that
 * writes there.  Paths come from the config and from constants, never from a
 * message; all work is done with *at() calls below the gadget's directory. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <unistd.h>

#include "common/config.h"
#include "common/msg.h"

#define GH_GADGET_ROOT "/sys/kernel/config/usb_gadget"
#define GH_UDC_CLASS "/sys/class/udc"
#define GH_GADGET_PREFIX "vmedia_"

/* Where configfs and the UDCs are: the constants above, or a test's tree. */
struct gh_sysfs {
	const char *gadget_root;
	const char *udc_class;
	const char *block_class; /* /sys/block (queue.h) */
};

/* 0 when device is a block device of the NBD driver, else a negative errno
 * (-ENOTBLK for anything else).  configfs opens the device by name as root:
 * this is what makes that safe even with a bad config. */
int gh_nbd_device_check(const char *device);

/* Create GH_GADGET_PREFIX<slot> exposing device (checked with
 * gh_nbd_device_check() by the caller) and bind it to a free UDC, whose name
 * goes to udc.  Any failure removes what was created and returns a negative
 * errno: -ENODEV without configfs or UDCs, -EEXIST when the gadget is already
 * there (a CLEANUP is due), -EBUSY when every UDC is taken. */
int gh_gadget_create(const struct gh_sysfs *fs, const struct vm_config *cfg, const char *slot,
		     const char *device, bool read_only, enum vm_media media,
		     char *udc, size_t udc_size);

/* Unbind and remove the slot's gadget, whatever state a crash left it in.
 * Returns 1 when there was one, 0 when there was none, or a negative errno. */
int gh_gadget_remove(const struct gh_sysfs *fs, const char *slot);

/* configfs attributes, shared with udc.c.  A write is one write(2), as
 * configfs wants; its errno (e.g. EINVAL from "file") is returned.  A read
 * drops the trailing newline. */
int gh_attr_write(int dirfd, const char *path, const char *value);
int gh_attr_read(int dirfd, const char *path, char *buf, size_t size);

static inline void gh_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_close_ __attribute__((cleanup(gh_closep)))
