/* SPDX-License-Identifier: Apache-2.0 */
/* Decoding, allow-list and state table of the gadget-helper: see request.h. */
#include "gadget-helper/request.h"

#include <errno.h>
#include <string.h>

/* The requests permitted in each state, 0-terminated. */
static const uint32_t permitted[GH_PHASE_MAX][3] = {
	[GH_PHASE_HELLO] = { VM_MSG_HELLO, 0 },
	[GH_PHASE_IDLE] = { VM_MSG_GADGET_CLEANUP, VM_MSG_GADGET_CREATE, 0 },
	[GH_PHASE_EXPOSED] = { VM_MSG_GADGET_REMOVE, 0 },
};

void gh_state_init(struct gh_state *st)
{
	st->phase = GH_PHASE_HELLO;
	st->slot = NULL;
}

const char *gh_phase_to_str(enum gh_phase phase)
{
	switch (phase) {
	case GH_PHASE_HELLO: return "HELLO";
	case GH_PHASE_IDLE: return "IDLE";
	case GH_PHASE_EXPOSED: return "EXPOSED";
	case GH_PHASE_MAX: break;
	}
	return "?";
}

static bool type_known(uint32_t type)
{
	return type == VM_MSG_HELLO || type == VM_MSG_GADGET_CLEANUP ||
	       type == VM_MSG_GADGET_CREATE || type == VM_MSG_GADGET_REMOVE;
}

static bool type_permitted(enum gh_phase phase, uint32_t type)
{
	for (const uint32_t *t = permitted[phase]; *t; t++)
		if (*t == type)
			return true;
	return false;
}

static int refuse(struct gh_request *req, int error, const char *why)
{
	req->refusal = why;
	return error;
}

/* The slot a request names must be configured and, once bound, the bound one. */
static int check_slot(const struct vm_config *cfg, const struct gh_state *st, const char *name,
		      struct gh_request *req)
{
	if (st->slot && strcmp(name, st->slot->name) != 0)
		return refuse(req, -EPERM, "not the slot this helper serves");
	req->slot = vm_config_find_slot(cfg, name);
	return req->slot ? 0 : refuse(req, -ENOENT, "not a configured slot");
}

int gh_request_check(const struct vm_config *cfg, const struct gh_state *st,
		     const struct vm_msg *m, struct gh_request *req)
{
	const char *slot = NULL, *device = NULL;
	uint32_t version = 0, read_only = 0, media = 0;
	struct vm_cursor c;
	int r;

	memset(req, 0, sizeof *req);
	req->type = m->type;
	if (m->fd >= 0)
		return refuse(req, -EBADMSG, "carries a file descriptor");
	if (!type_known(m->type))
		return refuse(req, -EBADMSG, "unknown request");
	if (!type_permitted(st->phase, m->type))
		return refuse(req, -EPERM, "not permitted in this state");

	/* decode the whole payload before looking at any of it */
	vm_cursor_init(&c, m);
	if (m->type == VM_MSG_HELLO) {
		version = vm_cursor_u32(&c);
	} else {
		slot = vm_cursor_str(&c);
		if (m->type == VM_MSG_GADGET_CREATE) {
			device = vm_cursor_str(&c);
			read_only = vm_cursor_u32(&c);
			media = vm_cursor_u32(&c);
		}
	}
	if (!vm_cursor_end(&c))
		return refuse(req, -EBADMSG, "malformed payload");

	if (m->type == VM_MSG_HELLO)
		return version == VM_MSG_VERSION ? 0 : refuse(req, -EPROTONOSUPPORT, "other version");
	if ((r = check_slot(cfg, st, slot, req)) < 0)
		return r;
	if (m->type != VM_MSG_GADGET_CREATE)
		return 0;
	/* The device is only compared with the config, never used: what
	 * configfs gets is req->slot->nbd_device. */
	if (strcmp(device, req->slot->nbd_device) != 0)
		return refuse(req, -EPERM, "not the slot's NBDDevice");
	if (read_only > 1)
		return refuse(req, -EINVAL, "read_only is not 0 or 1");
	if (media >= VM_MEDIA_MAX)
		return refuse(req, -EINVAL, "unknown media");
	req->read_only = read_only;
	req->media = (enum vm_media)media;
	return 0;
}

void gh_state_update(struct gh_state *st, const struct gh_request *req, int result)
{
	/* bound even when the request failed: a helper serves one slot, period */
	if (req->slot && !st->slot)
		st->slot = req->slot;
	if (result < 0)
		return;
	switch (req->type) {
	case VM_MSG_HELLO:
	case VM_MSG_GADGET_CLEANUP:
	case VM_MSG_GADGET_REMOVE:
		st->phase = GH_PHASE_IDLE;
		break;
	case VM_MSG_GADGET_CREATE:
		st->phase = GH_PHASE_EXPOSED;
		break;
	}
}
