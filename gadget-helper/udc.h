/* SPDX-License-Identifier: Apache-2.0 */
/* Which USB device controller a slot's gadget is bound to. */
#pragma once

#include <stddef.h>

#include "common/config.h"
#include "gadget-helper/gadget.h"

/* Write the first free UDC to the UDC attribute of the gadget at gadget_fd.
 * Candidates: the config's AllowedUDCs in their order (those that do not exist
 * are skipped), or all of fs->udc_class sorted by name.  A UDC named by any
 * gadget's UDC attribute (the KVM's keyboard too) is taken; one the kernel
 * calls busy is skipped.  Returns 0 with its name in udc, -ENODEV when no
 * candidate exists, -EBUSY when all are taken, or another negative errno. */
int gh_udc_bind(const struct gh_sysfs *fs, const struct vm_config *cfg, int gadget_fd,
		char *udc, size_t size);

/* Unbind the gadget at gadget_fd if it is bound.  0 or a negative errno. */
int gh_udc_unbind(int gadget_fd);
