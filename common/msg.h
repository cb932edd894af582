/* SPDX-License-Identifier: Apache-2.0 */
/* Typed messages between the processes of virtual-media.
 *
 *   supervisor <-> worker          (one socketpair per slot, on the worker's fd 3)
 *   worker     <-> gadget-helper   (one socketpair per worker, on the helper's fd 3)
 *
 * Every message is one SOCK_SEQPACKET datagram: a fixed header, then a payload of
 * at most VM_MSG_MAX_PAYLOAD bytes, built and read with the cursor below.  File
 * descriptors travel only as SCM_RIGHTS, at most one per message.  All types of
 * all peers live in this one enum, so a message can never be mistaken for
 * another peer's.  Bump VM_MSG_VERSION whenever a type or a payload changes:
 * the peers exchange it first and refuse a mismatch.
 *
 * Plain C (no GLib): the gadget-helper links this file and runs as root.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VM_MSG_VERSION 1
#define VM_MSG_MAX_PAYLOAD 4096
#define VM_MSG_MAX_STRING 2048 /* including the terminating NUL */

enum vm_msg_type {
	VM_MSG_NONE = 0,

	/* supervisor -> worker */
	VM_MSG_HELLO = 1,         /* u32 version */
	VM_MSG_MOUNT_PROXY,       /* (empty) */
	VM_MSG_MOUNT_LEGACY,      /* str url, u32 rw, [fd credentials pipe] */
	VM_MSG_UNMOUNT,           /* (empty) */

	/* worker -> supervisor */
	VM_MSG_READY = 100,       /* u32 version */
	VM_MSG_MOUNTED,           /* i32 error, i32 exit_code, u32 media, u32 read_only, str image_url */
	VM_MSG_UNMOUNTED,         /* i32 error, i32 exit_code */
	VM_MSG_LOST,              /* i32 error, i32 exit_code: the media went away by itself */
	VM_MSG_STATS,             /* u64 read_ios, u64 write_ios: no longer sent (the
	                           * supervisor reads the counters, supervisor/activity.c);
	                           * kept so that the numbers of the others stay */

	/* worker -> gadget-helper */
	VM_MSG_GADGET_CLEANUP = 200, /* str slot */
	VM_MSG_GADGET_CREATE,        /* str slot, str device, u32 read_only, u32 media */
	VM_MSG_GADGET_REMOVE,        /* str slot */

	/* gadget-helper -> worker */
	VM_MSG_GADGET_RESULT = 300,  /* i32 error, str udc (empty unless CREATE succeeded) */
};

/* What the host is given. */
enum vm_media {
	VM_MEDIA_DISK = 0,  /* removable USB disk */
	VM_MEDIA_CDROM = 1, /* USB CD-ROM */
	VM_MEDIA_MAX
};

struct vm_msg_hdr {
	uint32_t type;
	uint32_t len; /* payload bytes after the header */
};

struct vm_msg {
	uint32_t type;
	uint32_t len;
	uint8_t payload[VM_MSG_MAX_PAYLOAD];
	int fd; /* -1 when the message carries none; owned by the message */
};

/* A cursor over a received payload: any read past the end, a string without
 * its NUL or with an interior NUL, marks the cursor failed; vm_cursor_end()
 * then also fails on trailing bytes.  Check once at the end. */
struct vm_cursor {
	const uint8_t *p;
	size_t left;
	bool failed;
};

void vm_msg_init(struct vm_msg *m, uint32_t type);
void vm_msg_clear(struct vm_msg *m); /* closes the fd, if any */

/* Writers return false when the payload would exceed VM_MSG_MAX_PAYLOAD. */
bool vm_msg_put_u32(struct vm_msg *m, uint32_t v);
bool vm_msg_put_i32(struct vm_msg *m, int32_t v);
bool vm_msg_put_u64(struct vm_msg *m, uint64_t v);
bool vm_msg_put_str(struct vm_msg *m, const char *s);

void vm_cursor_init(struct vm_cursor *c, const struct vm_msg *m);
uint32_t vm_cursor_u32(struct vm_cursor *c);
int32_t vm_cursor_i32(struct vm_cursor *c);
uint64_t vm_cursor_u64(struct vm_cursor *c);
const char *vm_cursor_str(struct vm_cursor *c); /* points into the message; "" on failure */
bool vm_cursor_end(struct vm_cursor *c);        /* true when all was read and nothing failed */

/* Send one message (and m->fd when >= 0, which stays owned by m).
 * Returns 0 or a negative errno. */
int vm_msg_send(int sock, const struct vm_msg *m);

/* Receive one message.  Returns 0, -EAGAIN when nothing is queued (non-blocking
 * socket), -ECONNRESET when the peer has gone, -EBADMSG for a malformed datagram
 * (short, truncated, oversized, length mismatch, more than one fd), or another
 * negative errno.  On success m->fd holds a received fd (close-on-exec) or -1. */
int vm_msg_recv(int sock, struct vm_msg *m);

/* Decode a message from raw bytes as vm_msg_recv() would, without a socket:
 * for fuzzing and tests. */
int vm_msg_decode(const uint8_t *buf, size_t n, struct vm_msg *m);

const char *vm_msg_type_to_str(uint32_t type);
const char *vm_media_to_str(uint32_t media);
