/* SPDX-License-Identifier: Apache-2.0 */
/* Typed messages over SOCK_SEQPACKET socketpairs: see msg.h. */
#include "msg.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void vm_msg_init(struct vm_msg *m, uint32_t type)
{
	m->type = type;
	m->len = 0;
	m->fd = -1;
}

void vm_msg_clear(struct vm_msg *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	m->len = 0;
}

static bool put(struct vm_msg *m, const void *p, size_t n)
{
	if (n > VM_MSG_MAX_PAYLOAD - m->len)
		return false;
	memcpy(m->payload + m->len, p, n);
	m->len += (uint32_t)n;
	return true;
}

bool vm_msg_put_u32(struct vm_msg *m, uint32_t v)
{
	return put(m, &v, sizeof v);
}

bool vm_msg_put_i32(struct vm_msg *m, int32_t v)
{
	return put(m, &v, sizeof v);
}

bool vm_msg_put_u64(struct vm_msg *m, uint64_t v)
{
	return put(m, &v, sizeof v);
}

/* A string is a u32 length (NUL included) followed by the bytes and the NUL. */
bool vm_msg_put_str(struct vm_msg *m, const char *s)
{
	size_t n = strlen(s) + 1;
	uint32_t saved = m->len;

	if (n > VM_MSG_MAX_STRING)
		return false;
	if (!vm_msg_put_u32(m, (uint32_t)n) || !put(m, s, n)) {
		m->len = saved;
		return false;
	}
	return true;
}

void vm_cursor_init(struct vm_cursor *c, const struct vm_msg *m)
{
	c->p = m->payload;
	c->left = m->len;
	c->failed = false;
}

static bool take(struct vm_cursor *c, void *out, size_t n)
{
	if (c->failed || c->left < n) {
		c->failed = true;
		memset(out, 0, n);
		return false;
	}
	memcpy(out, c->p, n);
	c->p += n;
	c->left -= n;
	return true;
}

uint32_t vm_cursor_u32(struct vm_cursor *c)
{
	uint32_t v;
	take(c, &v, sizeof v);
	return v;
}

int32_t vm_cursor_i32(struct vm_cursor *c)
{
	int32_t v;
	take(c, &v, sizeof v);
	return v;
}

uint64_t vm_cursor_u64(struct vm_cursor *c)
{
	uint64_t v;
	take(c, &v, sizeof v);
	return v;
}

const char *vm_cursor_str(struct vm_cursor *c)
{
	uint32_t n = vm_cursor_u32(c);
	const char *s;

	if (c->failed || n == 0 || n > VM_MSG_MAX_STRING || n > c->left)
		goto fail;
	s = (const char *)c->p;
	/* exactly one NUL, at the end: no truncation games with embedded NULs */
	if (s[n - 1] != '\0' || memchr(s, '\0', n - 1) != NULL)
		goto fail;
	c->p += n;
	c->left -= n;
	return s;
fail:
	c->failed = true;
	return "";
}

bool vm_cursor_end(struct vm_cursor *c)
{
	return !c->failed && c->left == 0;
}

int vm_msg_send(int sock, const struct vm_msg *m)
{
	struct vm_msg_hdr hdr = { .type = m->type, .len = m->len };
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof hdr },
		{ .iov_base = (void *)m->payload, .iov_len = m->len },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cmsg;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;

	if (m->len > VM_MSG_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (m->fd >= 0) {
		struct cmsghdr *c;

		memset(&cmsg, 0, sizeof cmsg);
		mh.msg_control = cmsg.buf;
		mh.msg_controllen = sizeof cmsg.buf;
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &m->fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EPIPE ? -ECONNRESET : -errno;
	if ((size_t)n != sizeof hdr + m->len)
		return -EMSGSIZE;
	return 0;
}

int vm_msg_decode(const uint8_t *buf, size_t n, struct vm_msg *m)
{
	struct vm_msg_hdr hdr;

	vm_msg_init(m, VM_MSG_NONE);
	if (n < sizeof hdr)
		return -EBADMSG;
	memcpy(&hdr, buf, sizeof hdr);
	if (hdr.len > VM_MSG_MAX_PAYLOAD || hdr.len != n - sizeof hdr)
		return -EBADMSG;
	m->type = hdr.type;
	m->len = hdr.len;
	memcpy(m->payload, buf + sizeof hdr, hdr.len);
	return 0;
}

/* Close every fd of a control message we are going to refuse. */
static void close_all_fds(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			close(fd);
		}
	}
}

int vm_msg_recv(int sock, struct vm_msg *m)
{
	/* one byte more than the largest valid message, to detect oversize */
	uint8_t buf[sizeof(struct vm_msg_hdr) + VM_MSG_MAX_PAYLOAD + 1];
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} cmsg;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cmsg.buf, .msg_controllen = sizeof cmsg.buf,
	};
	int fd = -1, nfds = 0, r;
	ssize_t n;

	vm_msg_init(m, VM_MSG_NONE);
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0) {
		/* the peer has gone, or sent an empty datagram, which may carry fds */
		close_all_fds(&mh);
		return -ECONNRESET;
	}

	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			nfds += (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(&fd, CMSG_DATA(c), sizeof fd);
		}
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || nfds > 1) {
		close_all_fds(&mh);
		return -EBADMSG;
	}
	r = vm_msg_decode(buf, (size_t)n, m);
	if (r < 0) {
		if (nfds)
			close(fd);
		return r;
	}
	m->fd = nfds ? fd : -1;
	return 0;
}

const char *vm_msg_type_to_str(uint32_t type)
{
	switch ((enum vm_msg_type)type) {
	case VM_MSG_NONE: return "NONE";
	case VM_MSG_HELLO: return "HELLO";
	case VM_MSG_MOUNT_PROXY: return "MOUNT_PROXY";
	case VM_MSG_MOUNT_LEGACY: return "MOUNT_LEGACY";
	case VM_MSG_UNMOUNT: return "UNMOUNT";
	case VM_MSG_READY: return "READY";
	case VM_MSG_MOUNTED: return "MOUNTED";
	case VM_MSG_UNMOUNTED: return "UNMOUNTED";
	case VM_MSG_LOST: return "LOST";
	case VM_MSG_STATS: return "STATS";
	case VM_MSG_GADGET_CLEANUP: return "GADGET_CLEANUP";
	case VM_MSG_GADGET_CREATE: return "GADGET_CREATE";
	case VM_MSG_GADGET_REMOVE: return "GADGET_REMOVE";
	case VM_MSG_GADGET_RESULT: return "GADGET_RESULT";
	}
	return "UNKNOWN";
}

const char *vm_media_to_str(uint32_t media)
{
	switch (media) {
	case VM_MEDIA_DISK: return "disk";
	case VM_MEDIA_CDROM: return "cdrom";
	}
	return "unknown";
}
