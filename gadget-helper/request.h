/* SPDX-License-Identifier: Apache-2.0 */
/* What the gadget-helper may be asked, and when: decoding, the allow-list and
 * the state table, in the manner of OpenSSH's monitor.  Nothing here touches
 * the system, so all of it is unit-tested.
 *
 *   state     permitted requests        on success
 *   HELLO     HELLO                     -> IDLE
 *   IDLE      GADGET_CLEANUP            -> IDLE
 *             GADGET_CREATE             -> EXPOSED
 *   EXPOSED   GADGET_REMOVE             -> IDLE
 *
 * A failed CREATE stays IDLE (it was rolled back), a failed REMOVE stays
 * EXPOSED (so that it can be retried).  The first CLEANUP or CREATE binds the
 * helper to its slot for good. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "common/msg.h"

enum gh_phase {
	GH_PHASE_HELLO,
	GH_PHASE_IDLE,
	GH_PHASE_EXPOSED,
	GH_PHASE_MAX
};

struct gh_state {
	enum gh_phase phase;
	const struct vm_slot_config *slot; /* NULL until bound; points into the config */
};

/* A checked request: everything in it comes from the config, not the message,
 * except the two small enums, which have been range-checked. */
struct gh_request {
	uint32_t type;
	const struct vm_slot_config *slot; /* NULL for HELLO */
	bool read_only;                    /* CREATE only */
	enum vm_media media;               /* CREATE only */
	const char *refusal;               /* why gh_request_check() refused, for the log */
};

void gh_state_init(struct gh_state *st);
const char *gh_phase_to_str(enum gh_phase phase);

/* Decode m and decide whether it may be done now.  Returns 0, or a negative
 * errno to send back before the helper exits (the peer misbehaved):
 *   -EBADMSG  unknown type, malformed payload, an fd attached
 *   -EPERM    not permitted in this state, another slot than the bound one,
 *             a device that is not the slot's NBDDevice
 *   -ENOENT   a slot that is not configured
 *   -EINVAL   read_only or media out of range
 *   -EPROTONOSUPPORT  HELLO with another version
 * Does not change st: see gh_state_update(). */
int gh_request_check(const struct vm_config *cfg, const struct gh_state *st,
		     const struct vm_msg *m, struct gh_request *req);

/* Record the outcome (0 or a negative errno) of a request that passed the check. */
void gh_state_update(struct gh_state *st, const struct gh_request *req, int result);
