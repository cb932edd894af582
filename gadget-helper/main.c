/* SPDX-License-Identifier: Apache-2.0 */
/* vmedia-gadget-helper: the setuid-root program that alone writes USB gadget
 * configfs, for one slot, on behalf of that slot's unprivileged worker.
 *
 *   vmedia-gadget-helper [--config FILE]     (socketpair on fd 3, logs on stderr)
 *
 * The worker is not trusted: every request is checked against a state table
 * and the config (request.c) before anything is done (gadget.c), and anything
 * unexpected ends the helper.  No GLib here: the less code runs as root, the
 * less to audit. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/msg.h"
#include "gadget-helper/gadget.h"
#include "gadget-helper/log.h"
#include "gadget-helper/queue.h"
#include "gadget-helper/request.h"
#include "gadget-helper/rights.h"

#define SOCK_FD 3

struct helper {
	int sock;
	struct gh_sysfs fs;
	struct gh_state state;
	struct vm_config cfg;
};

/* fds 0-2 open (so that no file we open becomes someone's stdout), nothing
 * inherited but the socket, which must be a blocking SOCK_SEQPACKET. */
static int sanitize_fds(void)
{
	int type = 0, flags;
	socklen_t len = sizeof type;

	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR | O_NOCTTY) != fd)
			return -EBADF;
	if (close_range(SOCK_FD + 1, ~0U, 0) < 0)
		for (int fd = SOCK_FD + 1; fd < sysconf(_SC_OPEN_MAX); fd++)
			close(fd);
	if (getsockopt(SOCK_FD, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET)
		return -ENOTSOCK;
	flags = fcntl(SOCK_FD, F_GETFL);
	if (flags < 0 || fcntl(SOCK_FD, F_SETFL, flags & ~O_NONBLOCK) < 0 ||
	    fcntl(SOCK_FD, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

static int parse_args(int argc, char **argv, const char *def, const char **config)
{
	*config = def;
	if (argc == 1)
		return 0;
	if (argc == 3 && strcmp(argv[1], "--config") == 0) {
		*config = argv[2];
		return 0;
	}
	return -EINVAL;
}

/* Before any mount (CLEANUP) and before the host reads (CREATE); see queue.h.
 * A Proxy device left with larger requests would lose its session to bmcweb's
 * limit at the first read-ahead: CREATE fails then.  For Legacy it only costs
 * speed. */
static int limit_requests(const struct helper *h, const struct vm_slot_config *s, bool creating)
{
	int r = gh_nbd_device_check(s->nbd_device);

	if (r == 0)
		r = gh_queue_limit(&h->fs, s);
	if (r < 0) {
		gh_log(s->name, "cannot set %s's requests to %u KiB: %s", s->nbd_device,
		       vm_slot_request_kb(s), strerror(-r));
		return creating && s->mode == VM_MODE_PROXY ? r : 0;
	}
	return 0;
}

static int perform(const struct helper *h, const struct gh_request *req, char *udc, size_t size)
{
	const struct vm_slot_config *s = req->slot;
	int r;

	switch (req->type) {
	case VM_MSG_HELLO:
		return 0;
	case VM_MSG_GADGET_CLEANUP:
	case VM_MSG_GADGET_REMOVE:
		if (req->type == VM_MSG_GADGET_CLEANUP)
			(void)limit_requests(h, s, false);
		r = gh_gadget_remove(&h->fs, s->name);
		if (r >= 0)
			gh_log(s->name, "%s: %s", req->type == VM_MSG_GADGET_CLEANUP ? "cleanup" : "remove",
			       r > 0 ? "gadget removed" : "no gadget");
		return r < 0 ? r : 0;
	case VM_MSG_GADGET_CREATE:
		/* s->nbd_device, not the message's copy, is what configfs gets */
		if ((r = gh_nbd_device_check(s->nbd_device)) < 0) {
			gh_log(s->name, "create: %s is not an NBD device: %s", s->nbd_device, strerror(-r));
			return r;
		}
		if ((r = limit_requests(h, s, true)) < 0)
			return r;
		r = gh_gadget_create(&h->fs, &h->cfg, s->name, s->nbd_device, req->read_only,
				     req->media, udc, size);
		if (r >= 0)
			gh_log(s->name, "create: %s as %s%s on UDC %s", s->nbd_device,
			       vm_media_to_str(req->media), req->read_only ? " (read-only)" : "", udc);
		return r;
	}
	return -EBADMSG;
}

static int reply(int sock, int error, const char *udc)
{
	struct vm_msg m;

	vm_msg_init(&m, VM_MSG_GADGET_RESULT);
	vm_msg_put_i32(&m, error);
	vm_msg_put_str(&m, udc);
	return vm_msg_send(sock, &m);
}

/* Returns the exit status: 0 when the worker has closed its end, 1 on refusal. */
static int serve(struct helper *h)
{
	for (;;) {
		const char *bound = h->state.slot ? h->state.slot->name : NULL;
		char udc[VM_UDC_NAME_MAX + 1] = "";
		struct gh_request req;
		struct vm_msg m;
		int r;

		r = vm_msg_recv(h->sock, &m);
		if (r == -ECONNRESET)
			return 0;
		if (r < 0) {
			gh_log(bound, "refused a message: %s", strerror(-r));
			(void)reply(h->sock, -r, "");
			return 1;
		}
		r = gh_request_check(&h->cfg, &h->state, &m, &req);
		vm_msg_clear(&m); /* closes a stray fd; req refers to the config only */
		if (r < 0) {
			/* the message's strings are not logged: they are the peer's */
			gh_log(bound, "refused %s (%u) in state %s: %s (%s)", vm_msg_type_to_str(req.type),
			       req.type, gh_phase_to_str(h->state.phase), req.refusal, strerror(-r));
			(void)reply(h->sock, -r, "");
			return 1;
		}
		r = perform(h, &req, udc, sizeof udc);
		gh_state_update(&h->state, &req, r);
		if (r < 0 && req.slot)
			gh_log(req.slot->name, "%s failed: %s", vm_msg_type_to_str(req.type), strerror(-r));
		if ((r = reply(h->sock, r < 0 ? -r : 0, udc)) < 0) {
			gh_log(req.slot ? req.slot->name : NULL, "reply: %s", strerror(-r));
			return 1;
		}
	}
}

int main(int argc, char **argv)
{
	struct helper h = {
		.sock = SOCK_FD,
		.fs = { .gadget_root = GH_GADGET_ROOT, .udc_class = GH_UDC_CLASS,
			.block_class = GH_BLOCK_CLASS },
	};
	const char *config;
	char *def;
	char err[512];
	int r;

	if (sanitize_fds() < 0) {
		gh_log(NULL, "fd %d must be a SOCK_SEQPACKET socket", SOCK_FD);
		return 1;
	}
	/* nothing from the caller's environment reaches code running as root */
	clearenv();
	umask(022);
	if ((r = gh_drop_capabilities()) < 0) {
		gh_log(NULL, "cannot drop capabilities: %s", strerror(-r));
		return 1;
	}
	/* the file the worker reads when given none: ours, or the reference's */
	if (!(def = vm_config_default_path(SYSCONFDIR))) {
		gh_log(NULL, "out of memory");
		return 1;
	}
	if (parse_args(argc, argv, def, &config) < 0) {
		gh_log(NULL, "usage: vmedia-gadget-helper [--config FILE]");
		free(def);
		return 1;
	}
	/* A caller who is already root gains nothing by naming a config; anyone
	 * else could name one that allows another device. */
	if (getuid() != geteuid() && strcmp(config, def) != 0) {
		gh_log(NULL, "refusing --config other than %s when setuid", def);
		free(def);
		return 1;
	}
	r = vm_config_load(config, &h.cfg, err, sizeof err);
	free(def);
	if (r < 0) {
		gh_log(NULL, "%s", err);
		return 1;
	}
	gh_state_init(&h.state);
	return serve(&h);
}
