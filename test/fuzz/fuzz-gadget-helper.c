/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the gadget-helper's request handling (gadget-helper/request.c): a
 * sequence of datagrams, each decoded as vm_msg_recv() would, checked by
 * gh_request_check() against a fixed config and the state so far, and, when
 * permitted, recorded with gh_state_update() with the outcome the input picks.
 *
 * Only the validation layer and the state table are fuzzed, not the configfs
 * work of main.c's perform(): request.c touches nothing outside its
 * arguments, and everything the helper does as root is decided here, from
 * values request.c takes from the config.  (What perform() would then do is
 * tested on a fake tree in test/unit/test-gadget-helper.c.)  A refused request
 * ends the real helper; the check has no side effect, so the target goes on
 * with the next one, which probes the same reachable state again.
 *
 * Input: records of [flags u8][length u16 LE][datagram]; flags bit 0: the
 * request's work fails (-EBUSY), bit 1: an fd arrives with it.
 *
 * Invariants (OpenSSH monitor style, request.h):
 *  - a request passes only in the state whose row permits it, with its
 *    payload exactly the type's layout, and with no fd;
 *  - a passed slot request names a configured slot, the bound one once bound;
 *    a passed CREATE names that slot's own NBDDevice and in-range enums, and
 *    the request carries the config's values, not pointers into the message;
 *  - the helper binds to one slot and never to another;
 *  - every refusal says why (refusal set), and only refusals do. */
#include <errno.h>
#include <string.h>

#include "common/config.h"
#include "common/msg.h"
#include "gadget-helper/request.h"
#include "test/fuzz/fuzz.h"

#define SLOT(name, n, mode) \
	"\"" name "\": { \"EndpointId\": \"/nbd/" #n "\", \"Mode\": " #mode ", " \
	"\"NBDDevice\": \"/dev/nbd" #n "\", \"UnixSocket\": \"/run/vm/nbd" #n ".sock\", " \
	"\"Timeout\": 30, \"BlockSize\": 512 }"

static const char config_text[] =
	"{ \"InactivityTimeout\": 1800, \"AllowedUDCs\": [ \"dummy_udc.0\", \"dummy_udc.1\" ], "
	"\"MountPoints\": { " SLOT("Slot_0", 0, 0) ", " SLOT("Slot_1", 1, 0) ", "
	SLOT("Slot_2", 2, 1) " } }";

static struct vm_config cfg;

static void load_config(void)
{
	char err[256];

	if (cfg.n_slots == 0)
		FUZZ_ASSERT(vm_config_parse(config_text, strlen(config_text), "fuzz.json", &cfg, err,
					    sizeof err) == 0);
}

static bool permitted(enum gh_phase phase, uint32_t type)
{
	switch (phase) {
	case GH_PHASE_HELLO: return type == VM_MSG_HELLO;
	case GH_PHASE_IDLE: return type == VM_MSG_GADGET_CLEANUP || type == VM_MSG_GADGET_CREATE;
	case GH_PHASE_EXPOSED: return type == VM_MSG_GADGET_REMOVE;
	case GH_PHASE_MAX: break;
	}
	return false;
}

static bool in_config(const struct vm_slot_config *s)
{
	return s >= cfg.slots && s < cfg.slots + cfg.n_slots;
}

/* A passed request, against the message it came from. */
static void check_passed(const struct gh_state *st, const struct vm_msg *m,
			 const struct gh_request *req)
{
	struct vm_cursor c;
	const char *name, *device;

	FUZZ_ASSERT(req->refusal == NULL && req->type == m->type);
	FUZZ_ASSERT(m->fd < 0 && permitted(st->phase, m->type));
	vm_cursor_init(&c, m);
	if (m->type == VM_MSG_HELLO) {
		FUZZ_ASSERT(vm_cursor_u32(&c) == VM_MSG_VERSION && vm_cursor_end(&c));
		FUZZ_ASSERT(req->slot == NULL);
		return;
	}
	name = vm_cursor_str(&c);
	FUZZ_ASSERT(in_config(req->slot) && strcmp(name, req->slot->name) == 0);
	FUZZ_ASSERT(!st->slot || st->slot == req->slot);
	if (m->type != VM_MSG_GADGET_CREATE) {
		FUZZ_ASSERT(vm_cursor_end(&c));
		return;
	}
	device = vm_cursor_str(&c);
	FUZZ_ASSERT(vm_cursor_u32(&c) == req->read_only);
	FUZZ_ASSERT(vm_cursor_u32(&c) == (uint32_t)req->media);
	FUZZ_ASSERT(vm_cursor_end(&c));
	FUZZ_ASSERT(strcmp(device, req->slot->nbd_device) == 0);
	FUZZ_ASSERT(req->media < VM_MEDIA_MAX);
}

static enum gh_phase phase_after(enum gh_phase before, uint32_t type, int result)
{
	if (result < 0)
		return before;
	return type == VM_MSG_GADGET_CREATE ? GH_PHASE_EXPOSED : GH_PHASE_IDLE;
}

static void one_request(struct gh_state *st, const uint8_t *dgram, size_t n, uint8_t flags)
{
	static struct vm_msg m;
	struct gh_request req;
	struct gh_state before = *st;
	int r, result = flags & 1 ? -EBUSY : 0;

	if (vm_msg_decode(dgram, n, &m) < 0)
		return; /* vm_msg_recv() refuses it: the helper replies and exits */
	m.fd = flags & 2 ? 1000 : -1; /* only compared with -1, never used */

	r = gh_request_check(&cfg, st, &m, &req);
	FUZZ_ASSERT(memcmp(st, &before, sizeof *st) == 0); /* the check changes nothing */
	FUZZ_ASSERT((r == 0) == (req.refusal == NULL));
	if (r < 0) {
		FUZZ_ASSERT(r == -EBADMSG || r == -EPERM || r == -ENOENT || r == -EINVAL ||
			    r == -EPROTONOSUPPORT);
		if (m.fd >= 0)
			FUZZ_ASSERT(r == -EBADMSG);
		if (!permitted(st->phase, m.type))
			FUZZ_ASSERT(r == -EBADMSG || r == -EPERM);
		return;
	}
	check_passed(st, &m, &req);
	gh_state_update(st, &req, result);
	FUZZ_ASSERT(st->phase == phase_after(before.phase, req.type, result));
	FUZZ_ASSERT(!before.slot || st->slot == before.slot);
	FUZZ_ASSERT(st->slot == (before.slot ? before.slot : req.slot));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gh_state st;

	load_config();
	gh_state_init(&st);
	while (size >= 3) {
		uint8_t flags = data[0];
		size_t n = (size_t)data[1] | (size_t)data[2] << 8;

		data += 3, size -= 3;
		if (n > size)
			n = size;
		one_request(&st, data, n, flags);
		data += n, size -= n;
	}
	return 0;
}
