/* SPDX-License-Identifier: Apache-2.0 */
/* Writes the generated seeds of test/fuzz/corpus: messages of every type,
 * valid and broken, made with the real writers of common/msg.c (as a peer
 * would send them), message sequences for the gadget-helper, and credential
 * payloads.  The config seeds are JSON files kept by hand.
 *
 *   build/fuzz-seeds/make-seeds DIR     (make fuzz-seeds)
 *
 * Seeds are named after what they are; rerunning overwrites them with the
 * same bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/msg.h"
#include "test/fuzz/msg_layout.h"

static const char *out_dir;

static void write_seed(const char *target, const char *name, const void *a, size_t an,
		       const void *b, size_t bn)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", out_dir, target);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
	if (!(f = fopen(path, "wb")) || fwrite(a, 1, an, f) != an ||
	    (bn && fwrite(b, 1, bn, f) != bn) || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* The datagram of m: header then payload, as vm_msg_send() puts it on the wire. */
static size_t datagram(const struct vm_msg *m, uint8_t *buf)
{
	struct vm_msg_hdr hdr = { .type = m->type, .len = m->len };

	memcpy(buf, &hdr, sizeof hdr);
	memcpy(buf + sizeof hdr, m->payload, m->len);
	return sizeof hdr + m->len;
}

/* One message to the msg and msg-recv corpora (the latter with nfds in front). */
static void msg_seed(const char *name, const struct vm_msg *m, uint8_t nfds)
{
	static uint8_t buf[sizeof(struct vm_msg_hdr) + VM_MSG_MAX_PAYLOAD];
	size_t n = datagram(m, buf);

	write_seed("msg", name, buf, n, NULL, 0);
	write_seed("msg-recv", name, &nfds, 1, buf, n);
}

/* A message of type with plausible values in its layout. */
static void fill(struct vm_msg *m, const struct msg_layout *l, const char *str)
{
	vm_msg_init(m, l->type);
	for (const char *k = l->fields; *k; k++)
		switch (*k) {
		case 'u': vm_msg_put_u32(m, l->type == VM_MSG_HELLO || l->type == VM_MSG_READY ?
					    VM_MSG_VERSION : 1); break;
		case 'i': vm_msg_put_i32(m, 0); break;
		case 'q': vm_msg_put_u64(m, 12345); break;
		case 's': vm_msg_put_str(m, str); break;
		}
}

static const char *sample_string(uint32_t type)
{
	switch (type) {
	case VM_MSG_MOUNT_LEGACY: return "https://images.example/iso/boot.iso";
	case VM_MSG_MOUNTED: return "smb://server/share/disk.img";
	case VM_MSG_GADGET_RESULT: return "dummy_udc.0";
	default: return "Slot_0";
	}
}

static void messages(void)
{
	struct vm_msg m;
	char name[64];

	for (size_t i = 0; i < N_MSG_LAYOUTS; i++) {
		const struct msg_layout *l = &msg_layouts[i];
		const char *t = vm_msg_type_to_str(l->type);

		fill(&m, l, sample_string(l->type));
		snprintf(name, sizeof name, "%s", t);
		msg_seed(name, &m, l->type == VM_MSG_MOUNT_LEGACY);
		if (m.len > 0) { /* one byte short */
			m.len--;
			snprintf(name, sizeof name, "%s-short", t);
			msg_seed(name, &m, 0);
			m.len++;
		}
		vm_msg_put_u32(&m, 0); /* trailing bytes */
		snprintf(name, sizeof name, "%s-trailing", t);
		msg_seed(name, &m, 0);
	}

	/* strings: no NUL, an interior NUL, zero length, past the end, the longest */
	static const struct { const char *name; uint32_t len; const char *bytes; size_t n; } strs[] = {
		{ "str-no-nul", 6, "Slot_0", 6 },
		{ "str-interior-nul", 9, "Slot_0\0xx", 9 },
		{ "str-zero-length", 0, "", 0 },
		{ "str-past-end", 100, "Slot_0", 7 },
		{ "str-huge-length", UINT32_MAX, "Slot_0", 7 },
	};
	for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
		vm_msg_init(&m, VM_MSG_GADGET_CLEANUP);
		vm_msg_put_u32(&m, strs[i].len);
		memcpy(m.payload + m.len, strs[i].bytes, strs[i].n);
		m.len += (uint32_t)strs[i].n;
		msg_seed(strs[i].name, &m, 0);
	}
	char longest[VM_MSG_MAX_STRING];
	memset(longest, 'a', sizeof longest - 1);
	longest[sizeof longest - 1] = '\0';
	vm_msg_init(&m, VM_MSG_MOUNT_LEGACY);
	vm_msg_put_str(&m, longest);
	vm_msg_put_u32(&m, 0);
	msg_seed("str-longest", &m, 1);

	/* fds: two with a message, one with a message that takes none */
	fill(&m, msg_layout_of(VM_MSG_MOUNT_LEGACY), "smb://server/share/disk.img");
	msg_seed("fds-two", &m, 2);
	fill(&m, msg_layout_of(VM_MSG_UNMOUNT), "");
	msg_seed("fds-five", &m, 5);

	/* headers: empty, short, a length that lies, the largest payload */
	write_seed("msg", "hdr-empty", "", 0, NULL, 0);
	write_seed("msg", "hdr-short", "\x01\x00\x00\x00\x04\x00", 6, NULL, 0);
	write_seed("msg", "hdr-len-lies", "\x01\x00\x00\x00\x08\x00\x00\x00\x01\x00\x00\x00", 12,
		   NULL, 0);
	vm_msg_init(&m, VM_MSG_NONE);
	m.len = VM_MSG_MAX_PAYLOAD;
	memset(m.payload, 0, m.len);
	msg_seed("hdr-max-payload", &m, 0);
}

/* --- gadget-helper: [flags][u16 length][datagram] records ------------------ */

struct seq {
	uint8_t buf[8192];
	size_t n;
};

static void add(struct seq *s, const struct vm_msg *m, uint8_t flags)
{
	uint8_t d[sizeof(struct vm_msg_hdr) + VM_MSG_MAX_PAYLOAD];
	size_t n = datagram(m, d);

	s->buf[s->n++] = flags;
	s->buf[s->n++] = (uint8_t)(n & 0xff);
	s->buf[s->n++] = (uint8_t)(n >> 8);
	memcpy(s->buf + s->n, d, n);
	s->n += n;
}

static void hello(struct seq *s, uint32_t version)
{
	struct vm_msg m;

	vm_msg_init(&m, VM_MSG_HELLO);
	vm_msg_put_u32(&m, version);
	add(s, &m, 0);
}

static void slot_req(struct seq *s, uint32_t type, const char *slot, uint8_t flags)
{
	struct vm_msg m;

	vm_msg_init(&m, type);
	vm_msg_put_str(&m, slot);
	add(s, &m, flags);
}

static void create(struct seq *s, const char *slot, const char *dev, uint32_t ro, uint32_t media,
		   uint8_t flags)
{
	struct vm_msg m;

	vm_msg_init(&m, VM_MSG_GADGET_CREATE);
	vm_msg_put_str(&m, slot);
	vm_msg_put_str(&m, dev);
	vm_msg_put_u32(&m, ro);
	vm_msg_put_u32(&m, media);
	add(s, &m, flags);
}

static void helper_seed(const char *name, const struct seq *s)
{
	write_seed("gadget-helper", name, s->buf, s->n, NULL, 0);
}

static void helper_sequences(void)
{
	struct seq s;

	/* what a worker does: hello, cleanup, create, remove, create a CD-ROM */
	s.n = 0;
	hello(&s, VM_MSG_VERSION);
	slot_req(&s, VM_MSG_GADGET_CLEANUP, "Slot_1", 0);
	create(&s, "Slot_1", "/dev/nbd1", 0, VM_MEDIA_DISK, 0);
	slot_req(&s, VM_MSG_GADGET_REMOVE, "Slot_1", 0);
	create(&s, "Slot_1", "/dev/nbd1", 1, VM_MEDIA_CDROM, 0);
	slot_req(&s, VM_MSG_GADGET_REMOVE, "Slot_1", 0);
	helper_seed("worker-lifecycle", &s);

	/* failures: a CREATE that fails stays IDLE, a REMOVE that fails is retried */
	s.n = 0;
	hello(&s, VM_MSG_VERSION);
	create(&s, "Slot_0", "/dev/nbd0", 0, VM_MEDIA_DISK, 1);
	create(&s, "Slot_0", "/dev/nbd0", 0, VM_MEDIA_DISK, 0);
	slot_req(&s, VM_MSG_GADGET_REMOVE, "Slot_0", 1);
	slot_req(&s, VM_MSG_GADGET_REMOVE, "Slot_0", 0);
	helper_seed("failures-retried", &s);

	/* refusals: before HELLO, another version, another slot, device, values, an fd */
	s.n = 0;
	create(&s, "Slot_0", "/dev/nbd0", 0, VM_MEDIA_DISK, 0);
	hello(&s, VM_MSG_VERSION + 1);
	hello(&s, VM_MSG_VERSION);
	hello(&s, VM_MSG_VERSION);
	slot_req(&s, VM_MSG_GADGET_CLEANUP, "Slot_2", 0);
	slot_req(&s, VM_MSG_GADGET_CLEANUP, "Slot_0", 0);
	slot_req(&s, VM_MSG_GADGET_CLEANUP, "Slot_9", 0);
	create(&s, "Slot_2", "/dev/nbd0", 0, VM_MEDIA_DISK, 0);
	create(&s, "Slot_2", "/dev/nbd2 ", 0, VM_MEDIA_DISK, 0);
	create(&s, "Slot_2", "/dev/nbd2", 2, VM_MEDIA_DISK, 0);
	create(&s, "Slot_2", "/dev/nbd2", 0, VM_MEDIA_MAX, 0);
	create(&s, "Slot_2", "/dev/nbd2", 0, VM_MEDIA_CDROM, 2);
	slot_req(&s, VM_MSG_GADGET_REMOVE, "Slot_2", 0);
	helper_seed("refusals", &s);
}

/* --- credentials ------------------------------------------------------------ */

static void credentials(void)
{
	static const struct { const char *name; const char *bytes; size_t n; } seeds[] = {
		{ "user-password", "admin\0secret\0", 13 },
		{ "none", "\0\0", 2 },
		{ "password-alone", "\0secret\0", 8 },
		{ "one-field", "admin\0", 6 },
		{ "no-nul", "admin", 5 },
		{ "third-field", "admin\0secret\0x\0", 15 },
		{ "trailing", "admin\0secret\0x", 14 },
		{ "empty", "", 0 },
	};
	static char big[2 * 513 + 1];

	for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++)
		write_seed("credentials", seeds[i].name, seeds[i].bytes, seeds[i].n, NULL, 0);
	/* the longest fields, and one byte too long */
	memset(big, 'u', 512);
	big[512] = '\0';
	memset(big + 513, 'p', 512);
	big[1025] = '\0';
	write_seed("credentials", "longest", big, 1026, NULL, 0);
	big[512] = 'u';
	big[513] = '\0';
	write_seed("credentials", "user-too-long", big, 1026, NULL, 0);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make-seeds DIR\n");
		return 2;
	}
	out_dir = argv[1];
	messages();
	helper_sequences();
	credentials();
	return 0;
}
