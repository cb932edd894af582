/* SPDX-License-Identifier: Apache-2.0 */
/* Message framing (common/msg.c) over real SOCK_SEQPACKET socketpairs. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/msg.h"

typedef struct {
	int a, b; /* the two ends */
} Pair;

static void pair_setup(Pair *p, gconstpointer data)
{
	int sv[2];

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), ==, 0);
	p->a = sv[0];
	p->b = sv[1];
}

static void pair_teardown(Pair *p, gconstpointer data)
{
	if (p->a >= 0)
		close(p->a);
	if (p->b >= 0)
		close(p->b);
}

static int count_fds(void)
{
	GDir *d = g_dir_open("/proc/self/fd", 0, NULL);
	int n = 0;

	g_assert_nonnull(d);
	while (g_dir_read_name(d))
		n++;
	g_dir_close(d);
	return n;
}

/* Send raw bytes (header and payload as given) with nfds copies of fd. */
static void send_raw(int sock, const void *buf, size_t len, int fd, int nfds)
{
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} cmsg;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&cmsg, 0, sizeof cmsg);
		mh.msg_control = cmsg.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		for (int i = 0; i < nfds; i++)
			memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof(int));
	}
	g_assert_cmpint(sendmsg(sock, &mh, 0), ==, (ssize_t)len);
}

static void test_roundtrip(Pair *p, gconstpointer data)
{
	struct vm_msg m, r;
	struct vm_cursor c;

	vm_msg_init(&m, VM_MSG_MOUNTED);
	g_assert_true(vm_msg_put_u32(&m, 0));
	g_assert_true(vm_msg_put_u32(&m, UINT32_MAX));
	g_assert_true(vm_msg_put_i32(&m, -ETIMEDOUT));
	g_assert_true(vm_msg_put_i32(&m, INT32_MIN));
	g_assert_true(vm_msg_put_u64(&m, UINT64_MAX - 1));
	g_assert_true(vm_msg_put_str(&m, ""));
	g_assert_true(vm_msg_put_str(&m, "https://example.com/a b.iso?x=é"));
	g_assert_cmpint(vm_msg_send(p->a, &m), ==, 0);

	g_assert_cmpint(vm_msg_recv(p->b, &r), ==, 0);
	g_assert_cmpuint(r.type, ==, VM_MSG_MOUNTED);
	g_assert_cmpuint(r.len, ==, m.len);
	g_assert_cmpint(r.fd, ==, -1);
	vm_cursor_init(&c, &r);
	g_assert_cmpuint(vm_cursor_u32(&c), ==, 0);
	g_assert_cmpuint(vm_cursor_u32(&c), ==, UINT32_MAX);
	g_assert_cmpint(vm_cursor_i32(&c), ==, -ETIMEDOUT);
	g_assert_cmpint(vm_cursor_i32(&c), ==, INT32_MIN);
	g_assert_cmpuint(vm_cursor_u64(&c), ==, UINT64_MAX - 1);
	g_assert_cmpstr(vm_cursor_str(&c), ==, "");
	g_assert_cmpstr(vm_cursor_str(&c), ==, "https://example.com/a b.iso?x=é");
	g_assert_true(vm_cursor_end(&c));
	vm_msg_clear(&r);

	/* an empty payload */
	vm_msg_init(&m, VM_MSG_UNMOUNT);
	g_assert_cmpint(vm_msg_send(p->a, &m), ==, 0);
	g_assert_cmpint(vm_msg_recv(p->b, &r), ==, 0);
	g_assert_cmpuint(r.type, ==, VM_MSG_UNMOUNT);
	g_assert_cmpuint(r.len, ==, 0);
	vm_cursor_init(&c, &r);
	g_assert_true(vm_cursor_end(&c));
}

static void test_fd(Pair *p, gconstpointer data)
{
	struct vm_msg m, r;
	struct vm_cursor c;
	int pipefd[2], flags;
	char buf[16] = { 0 };

	g_assert_cmpint(pipe2(pipefd, O_CLOEXEC), ==, 0);
	vm_msg_init(&m, VM_MSG_MOUNT_LEGACY);
	vm_msg_put_str(&m, "smb://host/share/x.iso");
	vm_msg_put_u32(&m, 1);
	m.fd = pipefd[0];
	g_assert_cmpint(vm_msg_send(p->a, &m), ==, 0);
	/* the sender still owns its fd */
	g_assert_cmpint(fcntl(m.fd, F_GETFD), >=, 0);
	vm_msg_clear(&m);
	g_assert_cmpint(m.fd, ==, -1);
	g_assert_cmpint(fcntl(pipefd[0], F_GETFD), <, 0);

	g_assert_cmpint(vm_msg_recv(p->b, &r), ==, 0);
	g_assert_cmpint(r.fd, >=, 0);
	flags = fcntl(r.fd, F_GETFD);
	g_assert_true(flags & FD_CLOEXEC);
	vm_cursor_init(&c, &r);
	g_assert_cmpstr(vm_cursor_str(&c), ==, "smb://host/share/x.iso");
	g_assert_cmpuint(vm_cursor_u32(&c), ==, 1);
	g_assert_true(vm_cursor_end(&c));
	/* it is the same pipe */
	g_assert_cmpint(write(pipefd[1], "user\0pw\0", 8), ==, 8);
	close(pipefd[1]);
	g_assert_cmpint(read(r.fd, buf, sizeof buf), ==, 8);
	g_assert_cmpmem(buf, 8, "user\0pw\0", 8);
	vm_msg_clear(&r);
	g_assert_cmpint(r.fd, ==, -1);
}

static void test_two_fds(Pair *p, gconstpointer data)
{
	struct vm_msg_hdr hdr = { .type = VM_MSG_MOUNT_LEGACY, .len = 0 };
	struct vm_msg r;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC), before;

	before = count_fds();
	send_raw(p->a, &hdr, sizeof hdr, fd, 2);
	g_assert_cmpint(vm_msg_recv(p->b, &r), ==, -EBADMSG);
	/* both received copies were closed */
	g_assert_cmpint(count_fds(), ==, before);
	g_assert_cmpint(r.fd, ==, -1);

	/* more than fit in the receiver's control buffer (4): truncated, refused */
	send_raw(p->a, &hdr, sizeof hdr, fd, 8);
	g_assert_cmpint(vm_msg_recv(p->b, &r), ==, -EBADMSG);
	/* Not under qemu-user (test/run-unit's RUN_UNIT_WRAPPER): it receives
	 * into a control buffer twice the program's and keeps the fds that did
	 * not fit open behind its back.  The armhf virtual BMC runs this natively. */
	if (!g_getenv("RUN_UNIT_WRAPPER"))
		g_assert_cmpint(count_fds(), ==, before);
	close(fd);
}

static void test_fd_with_bad_frame(Pair *p, gconstpointer data)
{
	struct vm_msg_hdr hdr = { .type = VM_MSG_MOUNT_LEGACY, .len = 5 };
	struct vm_msg r;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC), before;

	before = count_fds();
	send_raw(p->a, &hdr, sizeof hdr, fd, 1); /* claims 5 payload bytes, has none */
	g_assert_cmpint(vm_msg_recv(p->b, &r), ==, -EBADMSG);
	g_assert_cmpint(count_fds(), ==, before);
	close(fd);
}

/* An empty datagram reads as the peer having gone (recvmsg returns 0 either
 * way), but the fds it carries must still be closed.  Found by fuzz-msg-recv. */
static void test_fd_with_empty_frame(Pair *p, gconstpointer data)
{
	struct vm_msg r;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC), before;

	before = count_fds();
	for (int nfds = 1; nfds <= 2; nfds++) {
		send_raw(p->a, "", 0, fd, nfds);
		g_assert_cmpint(vm_msg_recv(p->b, &r), ==, -ECONNRESET);
		g_assert_cmpint(r.fd, ==, -1);
		g_assert_cmpint(count_fds(), ==, before);
	}
	close(fd);
}

static void test_bad_frames(Pair *p, gconstpointer data)
{
	static uint8_t buf[sizeof(struct vm_msg_hdr) + VM_MSG_MAX_PAYLOAD + 64];
	struct vm_msg_hdr hdr = { .type = VM_MSG_HELLO };
	struct vm_msg r;

	/* shorter than a header */
	send_raw(p->a, "abc", 3, -1, 0);
	g_assert_cmpint(vm_msg_recv(p->b, &r), ==, -EBADMSG);
	/* length says more, then less, than was sent */
	hdr.len = 8;
	memcpy(buf, &hdr, sizeof hdr);
	send_raw(p->a, buf, sizeof hdr + 4, -1, 0);
	g_assert_cmpint(vm_msg_recv(p->b, &r), ==, -EBADMSG);
	hdr.len = 2;
	memcpy(buf, &hdr, sizeof hdr);
	send_raw(p->a, buf, sizeof hdr + 4, -1, 0);
	g_assert_cmpint(vm_msg_recv(p->b, &r), ==, -EBADMSG);
	/* oversized: one byte more than the limit, with a matching length */
	hdr.len = VM_MSG_MAX_PAYLOAD + 1;
	memcpy(buf, &hdr, sizeof hdr);
	send_raw(p->a, buf, sizeof hdr + hdr.len, -1, 0);
	g_assert_cmpint(vm_msg_recv(p->b, &r), ==, -EBADMSG);
	/* oversized beyond the receive buffer: truncated datagram */
	hdr.len = sizeof buf - sizeof hdr;
	memcpy(buf, &hdr, sizeof hdr);
	send_raw(p->a, buf, sizeof buf, -1, 0);
	g_assert_cmpint(vm_msg_recv(p->b, &r), ==, -EBADMSG);
	/* the largest valid one still passes */
	hdr.len = VM_MSG_MAX_PAYLOAD;
	memcpy(buf, &hdr, sizeof hdr);
	send_raw(p->a, buf, sizeof hdr + hdr.len, -1, 0);
	g_assert_cmpint(vm_msg_recv(p->b, &r), ==, 0);
	g_assert_cmpuint(r.len, ==, VM_MSG_MAX_PAYLOAD);
}

static void test_decode(void)
{
	uint8_t buf[sizeof(struct vm_msg_hdr) + VM_MSG_MAX_PAYLOAD + 1] = { 0 };
	struct vm_msg_hdr hdr = { .type = VM_MSG_STATS, .len = 16 };
	struct vm_msg m;

	memcpy(buf, &hdr, sizeof hdr);
	g_assert_cmpint(vm_msg_decode(buf, sizeof hdr + 16, &m), ==, 0);
	g_assert_cmpuint(m.type, ==, VM_MSG_STATS);
	g_assert_cmpuint(m.len, ==, 16);
	g_assert_cmpint(m.fd, ==, -1);
	g_assert_cmpint(vm_msg_decode(buf, sizeof hdr + 15, &m), ==, -EBADMSG);
	g_assert_cmpint(vm_msg_decode(buf, sizeof hdr + 17, &m), ==, -EBADMSG);
	g_assert_cmpint(vm_msg_decode(buf, 0, &m), ==, -EBADMSG);
	g_assert_cmpint(vm_msg_decode(buf, sizeof hdr - 1, &m), ==, -EBADMSG);
	hdr.len = VM_MSG_MAX_PAYLOAD + 1;
	memcpy(buf, &hdr, sizeof hdr);
	g_assert_cmpint(vm_msg_decode(buf, sizeof buf, &m), ==, -EBADMSG);
	hdr.len = UINT32_MAX;
	memcpy(buf, &hdr, sizeof hdr);
	g_assert_cmpint(vm_msg_decode(buf, sizeof buf, &m), ==, -EBADMSG);
}

static void test_eof(Pair *p, gconstpointer data)
{
	struct vm_msg m;

	close(p->a);
	p->a = -1;
	g_assert_cmpint(vm_msg_recv(p->b, &m), ==, -ECONNRESET);
	/* and sending to a closed peer: no SIGPIPE, an error */
	vm_msg_init(&m, VM_MSG_UNMOUNT);
	g_assert_cmpint(vm_msg_send(p->b, &m), ==, -ECONNRESET);
}

static void test_nonblocking(Pair *p, gconstpointer data)
{
	struct vm_msg m;

	g_assert_cmpint(fcntl(p->b, F_SETFL, O_NONBLOCK), ==, 0);
	g_assert_cmpint(vm_msg_recv(p->b, &m), ==, -EAGAIN);
}

static void test_writer_limits(void)
{
	g_autofree char *big = g_malloc(VM_MSG_MAX_STRING + 1);
	struct vm_msg m;
	uint32_t len;

	/* a string of VM_MSG_MAX_STRING bytes with its NUL fits, one more does not */
	memset(big, 'x', VM_MSG_MAX_STRING);
	big[VM_MSG_MAX_STRING] = '\0';
	vm_msg_init(&m, VM_MSG_MOUNT_LEGACY);
	g_assert_false(vm_msg_put_str(&m, big));
	g_assert_cmpuint(m.len, ==, 0);
	big[VM_MSG_MAX_STRING - 1] = '\0';
	g_assert_true(vm_msg_put_str(&m, big));
	g_assert_cmpuint(m.len, ==, 4 + VM_MSG_MAX_STRING);

	/* fill the payload: the write that does not fit fails and changes nothing */
	while (vm_msg_put_u64(&m, 1))
		;
	len = m.len;
	g_assert_cmpuint(len, >, VM_MSG_MAX_PAYLOAD - 8);
	g_assert_false(vm_msg_put_u64(&m, 1));
	g_assert_false(vm_msg_put_str(&m, "abcdefgh"));
	g_assert_cmpuint(m.len, ==, len);
	while (vm_msg_put_u32(&m, 1))
		;
	g_assert_cmpuint(m.len, ==, VM_MSG_MAX_PAYLOAD);
	g_assert_false(vm_msg_put_u32(&m, 1));
	g_assert_false(vm_msg_put_i32(&m, 1));
	g_assert_false(vm_msg_put_str(&m, ""));
	g_assert_cmpuint(m.len, ==, VM_MSG_MAX_PAYLOAD);
}

static void raw(struct vm_msg *m, const void *p, size_t n)
{
	memcpy(m->payload + m->len, p, n);
	m->len += (uint32_t)n;
}

static void test_cursor(void)
{
	struct vm_msg m;
	struct vm_cursor c;

	/* reading past the end: zero, failed, and stays failed */
	vm_msg_init(&m, VM_MSG_STATS);
	vm_msg_put_u32(&m, 7);
	vm_cursor_init(&c, &m);
	g_assert_cmpuint(vm_cursor_u64(&c), ==, 0);
	g_assert_false(vm_cursor_end(&c));
	g_assert_cmpuint(vm_cursor_u32(&c), ==, 0);
	/* trailing bytes */
	vm_cursor_init(&c, &m);
	vm_cursor_i32(&c);
	g_assert_true(vm_cursor_end(&c));
	vm_msg_put_u32(&m, 0);
	vm_cursor_init(&c, &m);
	vm_cursor_i32(&c);
	g_assert_false(vm_cursor_end(&c));

	struct {
		uint32_t len;
		const char *bytes;
		size_t n;
	} bad[] = {
		{ 0, "", 0 },              /* zero length */
		{ 3, "abc", 3 },           /* no NUL */
		{ 4, "a\0b", 4 },          /* NUL inside (and at the end) */
		{ 3, "\0\0", 3 },
		{ 9, "abc", 4 },           /* longer than what is left */
		{ UINT32_MAX, "abc", 4 },
		{ VM_MSG_MAX_STRING + 1, "", 1 },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		vm_msg_init(&m, VM_MSG_MOUNT_LEGACY);
		vm_msg_put_u32(&m, bad[i].len);
		raw(&m, bad[i].bytes, bad[i].n);
		vm_cursor_init(&c, &m);
		g_assert_cmpstr(vm_cursor_str(&c), ==, "");
		g_assert_false(vm_cursor_end(&c));
	}
	/* a 3-byte length field: too short for the length itself */
	vm_msg_init(&m, VM_MSG_MOUNT_LEGACY);
	raw(&m, "\4\0\0", 3);
	vm_cursor_init(&c, &m);
	g_assert_cmpstr(vm_cursor_str(&c), ==, "");
	g_assert_false(vm_cursor_end(&c));
	/* a good one, for contrast */
	vm_msg_init(&m, VM_MSG_MOUNT_LEGACY);
	vm_msg_put_u32(&m, 4);
	raw(&m, "abc", 4);
	vm_cursor_init(&c, &m);
	g_assert_cmpstr(vm_cursor_str(&c), ==, "abc");
	g_assert_true(vm_cursor_end(&c));
}

static void test_names(void)
{
	g_assert_cmpstr(vm_msg_type_to_str(VM_MSG_GADGET_CREATE), ==, "GADGET_CREATE");
	g_assert_cmpstr(vm_msg_type_to_str(VM_MSG_HELLO), ==, "HELLO");
	g_assert_cmpstr(vm_msg_type_to_str(12345), ==, "UNKNOWN");
	g_assert_cmpstr(vm_media_to_str(VM_MEDIA_CDROM), ==, "cdrom");
	g_assert_cmpstr(vm_media_to_str(VM_MEDIA_DISK), ==, "disk");
	g_assert_cmpstr(vm_media_to_str(VM_MEDIA_MAX), ==, "unknown");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define P(path, fn) g_test_add("/msg/" path, Pair, NULL, pair_setup, fn, pair_teardown)
	P("roundtrip", test_roundtrip);
	P("fd", test_fd);
	P("two-fds", test_two_fds);
	P("fd-with-bad-frame", test_fd_with_bad_frame);
	P("fd-with-empty-frame", test_fd_with_empty_frame);
	P("bad-frames", test_bad_frames);
	P("eof", test_eof);
	P("nonblocking", test_nonblocking);
#undef P
	g_test_add_func("/msg/decode", test_decode);
	g_test_add_func("/msg/writer-limits", test_writer_limits);
	g_test_add_func("/msg/cursor", test_cursor);
	g_test_add_func("/msg/names", test_names);
	return g_test_run();
}
