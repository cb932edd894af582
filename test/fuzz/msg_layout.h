/* SPDX-License-Identifier: Apache-2.0 */
/* The payload of each message type, as its receiver reads it with the cursor
 * (common/msg.h's comments; worker/worker.c, worker/helper_link.c,
 * supervisor/slot.c, gadget-helper/request.c): one letter per field,
 *   u = u32, i = i32, q = u64, s = string.
 * Shared by the message fuzzer, which decodes with it, and the seed generator,
 * which encodes with it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/msg.h"

struct msg_layout {
	uint32_t type;
	const char *fields;
};

static const struct msg_layout msg_layouts[] = {
	{ VM_MSG_HELLO, "u" },
	{ VM_MSG_MOUNT_PROXY, "" },
	{ VM_MSG_MOUNT_LEGACY, "su" }, /* + an fd: the credentials pipe */
	{ VM_MSG_UNMOUNT, "" },
	{ VM_MSG_READY, "u" },
	{ VM_MSG_MOUNTED, "iiuus" },
	{ VM_MSG_UNMOUNTED, "ii" },
	{ VM_MSG_LOST, "ii" },
	{ VM_MSG_STATS, "qq" },
	{ VM_MSG_GADGET_CLEANUP, "s" },
	{ VM_MSG_GADGET_CREATE, "ssuu" },
	{ VM_MSG_GADGET_REMOVE, "s" },
	{ VM_MSG_GADGET_RESULT, "is" },
};

#define N_MSG_LAYOUTS (sizeof msg_layouts / sizeof *msg_layouts)

/* The layout of type, or NULL for a type no receiver takes. */
static inline const struct msg_layout *msg_layout_of(uint32_t type)
{
	for (size_t i = 0; i < N_MSG_LAYOUTS; i++)
		if (msg_layouts[i].type == type)
			return &msg_layouts[i];
	return NULL;
}
