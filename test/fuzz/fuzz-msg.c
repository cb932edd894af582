/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the message decoders (common/msg.c): the header check of
 * vm_msg_decode(), then the cursor reading the payload with the layout of
 * every message type, as each receiver does.
 *
 * Invariants:
 *  - a datagram decodes iff it has a whole header whose length is exactly the
 *    rest and at most VM_MSG_MAX_PAYLOAD; the message is then a copy of it;
 *  - a cursor that fails yields 0 and "" from then on, never stale bytes;
 *  - a payload the cursor accepts whole is canonical: encoding the decoded
 *    fields again with the vm_msg_put_*() writers gives back the same bytes
 *    (so no receiver accepts anything the real senders could not have sent);
 *  - a string points into the payload and ends with the only NUL;
 *  - the worker's second look at a MOUNT_LEGACY URL (vm_image_url_parse)
 *    either refuses it or yields a host and an absolute, decoded path. */
#include <string.h>

#include "common/image_url.h"
#include "common/msg.h"
#include "test/fuzz/fuzz.h"
#include "test/fuzz/msg_layout.h"

#define MAX_FIELDS 8

struct field {
	uint64_t num;
	const char *str;
};

static void check_string(const struct vm_msg *m, const char *s)
{
	size_t n = strlen(s) + 1;

	FUZZ_ASSERT((const uint8_t *)s >= m->payload);
	FUZZ_ASSERT((const uint8_t *)s + n <= m->payload + m->len);
	FUZZ_ASSERT(n <= VM_MSG_MAX_STRING);
}

/* Read one field; after a failure every value must be the zero value. */
static void read_field(struct vm_cursor *c, const struct vm_msg *m, char kind, struct field *f)
{
	bool failed_before = c->failed;

	f->str = NULL;
	switch (kind) {
	case 'u': f->num = vm_cursor_u32(c); break;
	case 'i': f->num = (uint32_t)vm_cursor_i32(c); break;
	case 'q': f->num = vm_cursor_u64(c); break;
	case 's': f->str = vm_cursor_str(c); f->num = 0; break;
	}
	if (c->failed) {
		FUZZ_ASSERT(f->num == 0);
		FUZZ_ASSERT(!f->str || f->str[0] == '\0');
	} else {
		FUZZ_ASSERT(!failed_before);
		if (f->str)
			check_string(m, f->str);
	}
}

static void reencode(const struct vm_msg *m, const char *kinds, const struct field *f)
{
	struct vm_msg again;

	vm_msg_init(&again, m->type);
	for (size_t i = 0; kinds[i]; i++) {
		bool ok = false;
		switch (kinds[i]) {
		case 'u': ok = vm_msg_put_u32(&again, (uint32_t)f[i].num); break;
		case 'i': ok = vm_msg_put_i32(&again, (int32_t)(uint32_t)f[i].num); break;
		case 'q': ok = vm_msg_put_u64(&again, f[i].num); break;
		case 's': ok = vm_msg_put_str(&again, f[i].str); break;
		}
		FUZZ_ASSERT(ok);
	}
	FUZZ_ASSERT(again.len == m->len);
	FUZZ_ASSERT(memcmp(again.payload, m->payload, m->len) == 0);
}

/* What the worker does with a well-formed MOUNT_LEGACY before acting on it. */
static void check_url(const char *url)
{
	VmImageUrl u;

	if (!vm_image_url_parse(url, &u, NULL))
		return;
	FUZZ_ASSERT(u.host && u.host[0]);
	FUZZ_ASSERT(u.path && u.path[0] == '/' && u.path[1]);
	FUZZ_ASSERT(!strstr(u.path, "/../") && !strstr(u.path, "/./"));
	for (const char *p = u.path; *p; p++)
		FUZZ_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f);
	vm_image_url_clear(&u);
}

static void decode_as(const struct vm_msg *m, const struct msg_layout *l)
{
	struct field f[MAX_FIELDS];
	struct vm_cursor c;

	vm_cursor_init(&c, m);
	for (size_t i = 0; l->fields[i]; i++)
		read_field(&c, m, l->fields[i], &f[i]);
	if (!vm_cursor_end(&c))
		return;
	reencode(m, l->fields, f);
	if (m->type == VM_MSG_MOUNT_LEGACY && l->type == VM_MSG_MOUNT_LEGACY)
		check_url(f[0].str);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm_msg m; /* 4 KiB: not on the stack of every run */
	struct vm_msg_hdr hdr;
	bool valid;
	int r;

	r = vm_msg_decode(data, size, &m);
	if (size >= sizeof hdr)
		memcpy(&hdr, data, sizeof hdr);
	valid = size >= sizeof hdr && hdr.len <= VM_MSG_MAX_PAYLOAD &&
		hdr.len == size - sizeof hdr;
	FUZZ_ASSERT(valid == (r == 0));
	FUZZ_ASSERT(m.fd == -1);
	if (r < 0)
		return 0;
	FUZZ_ASSERT(m.type == hdr.type && m.len == hdr.len);
	FUZZ_ASSERT(memcmp(m.payload, data + sizeof hdr, m.len) == 0);
	FUZZ_ASSERT(vm_msg_type_to_str(m.type) != NULL);

	/* every layout, not only the type's: the worker's helper link reads any
	 * type as a GADGET_RESULT before it checks the type, and this drives the
	 * cursor through every shape of payload */
	for (size_t i = 0; i < N_MSG_LAYOUTS; i++)
		decode_as(&m, &msg_layouts[i]);
	return 0;
}
