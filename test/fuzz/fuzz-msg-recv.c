/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz vm_msg_recv() (common/msg.c) through a real SOCK_SEQPACKET socketpair,
 * with file descriptors attached: the path every message between the
 * processes takes, including its SCM_RIGHTS handling.
 *
 * Input: one byte, the number of fds to attach (its low 3 bits: 0 to 7;
 * vm_msg_recv() takes at most one and has room to see up to four), then the
 * datagram, sent as is.
 *
 * Invariants:
 *  - the result is what vm_msg_decode() says of the same bytes, except that
 *    more than one fd, or a truncated datagram or control message, is -EBADMSG
 *    and an empty datagram reads as the peer having gone;
 *  - an accepted fd is close-on-exec, and it is the only one left open:
 *    every refused fd is closed (no fd leaks, whatever arrives). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/msg.h"
#include "test/fuzz/fuzz.h"

#define MAX_SEND_FDS 7

static int sv[2] = { -1, -1 };

/* The lowest free fd number: the same before and after a run, or a run leaked. */
static int lowest_free_fd(void)
{
	int fd = dup(0);

	FUZZ_ASSERT(fd >= 0);
	close(fd);
	return fd;
}

static void send_raw(const uint8_t *data, size_t size, int nfds)
{
	union {
		char buf[CMSG_SPACE(MAX_SEND_FDS * sizeof(int))];
		struct cmsghdr align;
	} cmsg;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fds[MAX_SEND_FDS];

	for (int i = 0; i < nfds; i++)
		FUZZ_ASSERT((fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);
	if (nfds) {
		struct cmsghdr *c;

		memset(&cmsg, 0, sizeof cmsg);
		mh.msg_control = cmsg.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	FUZZ_ASSERT(sendmsg(sv[0], &mh, MSG_NOSIGNAL) == (ssize_t)size);
	for (int i = 0; i < nfds; i++)
		close(fds[i]); /* in flight, the kernel holds them */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm_msg m, expect;
	int nfds, r, want, before;

	if (size < 1 || size > 1 + sizeof(struct vm_msg_hdr) + 2 * VM_MSG_MAX_PAYLOAD)
		return 0; /* more than the socket buffer may take in one datagram */
	if (sv[0] < 0)
		FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
				       sv) == 0);
	nfds = data[0] & 7;
	data++, size--;

	before = lowest_free_fd();
	send_raw(data, size, nfds);
	r = vm_msg_recv(sv[1], &m);

	if (size == 0)
		want = -ECONNRESET; /* a zero-length read: as if the peer had gone */
	else if (nfds > 1 || size > sizeof(struct vm_msg_hdr) + VM_MSG_MAX_PAYLOAD)
		want = -EBADMSG;
	else
		want = vm_msg_decode(data, size, &expect);
	FUZZ_ASSERT(r == want);
	if (r == 0) {
		FUZZ_ASSERT(m.type == expect.type && m.len == expect.len);
		FUZZ_ASSERT(memcmp(m.payload, expect.payload, m.len) == 0);
		FUZZ_ASSERT((m.fd >= 0) == (nfds == 1));
		if (m.fd >= 0)
			FUZZ_ASSERT(fcntl(m.fd, F_GETFD) & FD_CLOEXEC);
		vm_msg_clear(&m);
	} else {
		FUZZ_ASSERT(m.fd == -1);
	}
	FUZZ_ASSERT(lowest_free_fd() == before);
	/* nothing left queued for the next run */
	FUZZ_ASSERT(recv(sv[1], &r, sizeof r, MSG_DONTWAIT) < 0 && errno == EAGAIN);
	return 0;
}
