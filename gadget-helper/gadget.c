/* SPDX-License-Identifier: Apache-2.0 */
/* The USB gadget of one slot in configfs: see gadget.h. */
#include "gadget-helper/gadget.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/major.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "gadget-helper/log.h"
#include "gadget-helper/udc.h"

#define FUNCTION "functions/mass_storage.usb0"
#define LUN FUNCTION "/lun.0/"
#define CONFIG "configs/c.1"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

int gh_attr_write(int dirfd, const char *path, const char *value)
{
	_cleanup_close_ int fd = -1;
	size_t n = strlen(value);
	ssize_t w;

	/* no O_CREAT: configfs makes the attributes, a missing one is an error */
	fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return -errno;
	w = write(fd, value, n);
	if (w < 0)
		return -errno;
	if ((size_t)w != n)
		return -EIO;
	return 0;
}

int gh_attr_read(int dirfd, const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = -1;
	ssize_t n;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

int gh_nbd_device_check(const char *device)
{
	struct stat st;

	if (stat(device, &st) < 0)
		return -errno;
	if (!S_ISBLK(st.st_mode) || major(st.st_rdev) != NBD_MAJOR)
		return -ENOTBLK;
	return 0;
}

/* The slot name is [A-Za-z0-9_]{1,32} (config.c): it cannot escape the root. */
static void gadget_name(const char *slot, char name[sizeof GH_GADGET_PREFIX + VM_SLOT_NAME_MAX])
{
	snprintf(name, sizeof GH_GADGET_PREFIX + VM_SLOT_NAME_MAX, GH_GADGET_PREFIX "%s", slot);
}

enum step_op { STEP_MKDIR, STEP_WRITE, STEP_LINK };

struct step {
	enum step_op op;
	const char *path;  /* relative to the gadget's directory */
	const char *value; /* STEP_WRITE: the text; STEP_LINK: the target */
};

static int run_step(int dfd, const struct step *s)
{
	switch (s->op) {
	case STEP_MKDIR:
		return mkdirat(dfd, s->path, 0755) < 0 ? -errno : 0;
	case STEP_WRITE:
		return gh_attr_write(dfd, s->path, s->value);
	case STEP_LINK:
		return symlinkat(s->value, dfd, s->path) < 0 ? -errno : 0;
	}
	return -EINVAL;
}

/* Everything below the new gadget's directory, up to but not including the UDC. */
static int populate(int dfd, const char *function, const char *slot, const char *device,
		    bool read_only, enum vm_media media)
{
	static const char *const op_names[] = { "mkdir", "write", "symlink" };
	bool cdrom = media == VM_MEDIA_CDROM;
	char product[16 + 1], inquiry[8 + 16 + 4 + 1];

	/* SCSI INQUIRY: vendor(8) product(16) revision(4); the host's tests find
	 * their device by this product string */
	snprintf(product, sizeof product, "VM %s", slot);
	snprintf(inquiry, sizeof inquiry, "%-8s%-16s%-4s", "OpenBMC", product, "0001");

	const struct step steps[] = {
		{ STEP_WRITE, "idVendor", "0x1d6b" }, /* Linux Foundation */
		{ STEP_WRITE, "idProduct", "0x0104" }, /* Multifunction Composite Gadget */
		{ STEP_WRITE, "bcdDevice", "0x0100" },
		{ STEP_WRITE, "bcdUSB", "0x0200" },
		{ STEP_MKDIR, "strings/0x409", NULL },
		{ STEP_WRITE, "strings/0x409/manufacturer", "OpenBMC" },
		{ STEP_WRITE, "strings/0x409/product", "Virtual Media" },
		{ STEP_WRITE, "strings/0x409/serialnumber", slot },
		{ STEP_MKDIR, CONFIG, NULL },
		{ STEP_WRITE, CONFIG "/MaxPower", "250" },
		{ STEP_MKDIR, CONFIG "/strings/0x409", NULL },
		{ STEP_WRITE, CONFIG "/strings/0x409/configuration", "Virtual Media" },
		{ STEP_MKDIR, FUNCTION, NULL }, /* the kernel creates lun.0 */
		{ STEP_WRITE, LUN "removable", "1" },
		/* cdrom and ro cannot change once a file is open */
		{ STEP_WRITE, LUN "cdrom", cdrom ? "1" : "0" },
		{ STEP_WRITE, LUN "ro", read_only || cdrom ? "1" : "0" },
		{ STEP_WRITE, LUN "inquiry_string", inquiry },
		/* last: the kernel opens the device now (EINVAL if unusable) */
		{ STEP_WRITE, LUN "file", device },
		{ STEP_LINK, CONFIG "/mass_storage.usb0", function },
	};

	for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
		int r = run_step(dfd, &steps[i]);
		if (r < 0) {
			gh_log(slot, "create: %s %s: %s", op_names[steps[i].op], steps[i].path,
			       strerror(-r));
			return r;
		}
	}
	return 0;
}

int gh_gadget_create(const struct gh_sysfs *fs, const struct vm_config *cfg, const char *slot,
		     const char *device, bool read_only, enum vm_media media,
		     char *udc, size_t udc_size)
{
	_cleanup_close_ int rootfd = -1;
	char name[sizeof GH_GADGET_PREFIX + VM_SLOT_NAME_MAX], function[PATH_MAX];
	int dfd, r, k;

	udc[0] = '\0';
	gadget_name(slot, name);
	/* configfs resolves a link's target like a path given to open(), i.e.
	 * relative to our cwd, not to the link: so the target is absolute */
	if (snprintf(function, sizeof function, "%s/%s/" FUNCTION, fs->gadget_root, name) >=
	    (int)sizeof function)
		return -ENAMETOOLONG;
	rootfd = open(fs->gadget_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		r = errno == ENOENT ? -ENODEV : -errno;
		gh_log(slot, "create: %s: %s", fs->gadget_root, strerror(errno));
		return r;
	}
	if (mkdirat(rootfd, name, 0755) < 0) {
		/* not ours: leave it to a CLEANUP, never roll back into it */
		r = -errno;
		gh_log(slot, "create: mkdir %s: %s", name, strerror(-r));
		return r;
	}

	/* From here on the directory is ours: any failure removes all of it. */
	dfd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = dfd < 0 ? -errno : populate(dfd, function, slot, device, read_only, media);
	if (r >= 0 && (r = gh_udc_bind(fs, cfg, dfd, udc, udc_size)) < 0)
		gh_log(slot, "create: bind a UDC: %s", strerror(-r));
	if (dfd >= 0)
		close(dfd); /* before the rmdir of a rollback */
	if (r >= 0)
		return 0;

	udc[0] = '\0';
	k = gh_gadget_remove(fs, slot);
	if (k < 0)
		gh_log(slot, "create: rolling back failed too: %s", strerror(-k));
	return r;
}

/* Teardown in reverse order of creation.  configfs removes attributes and
 * default groups (lun.0, configs/, strings/...) with their directory; the
 * directories we made need rmdir, the link unlink. */
static const struct {
	const char *path;
	int flags;
} teardown[] = {
	{ CONFIG "/mass_storage.usb0", 0 },
	{ CONFIG "/strings/0x409", AT_REMOVEDIR },
	{ CONFIG, AT_REMOVEDIR },
	{ FUNCTION, AT_REMOVEDIR },
	{ "strings/0x409", AT_REMOVEDIR },
};

static int remove_below(int dfd, const char *slot)
{
	int r;

	/* unbind first: the host sees the device go before its parts do */
	if ((r = gh_udc_unbind(dfd)) < 0) {
		gh_log(slot, "remove: unbind: %s", strerror(-r));
		return r;
	}
	for (size_t i = 0; i < ELEMENTSOF(teardown); i++)
		/* ENOENT: a crash or a rollback stopped before making it */
		if (unlinkat(dfd, teardown[i].path, teardown[i].flags) < 0 && errno != ENOENT) {
			r = -errno;
			gh_log(slot, "remove: %s %s: %s", teardown[i].flags ? "rmdir" : "unlink",
			       teardown[i].path, strerror(-r));
			return r;
		}
	return 0;
}

int gh_gadget_remove(const struct gh_sysfs *fs, const char *slot)
{
	_cleanup_close_ int rootfd = -1;
	char name[sizeof GH_GADGET_PREFIX + VM_SLOT_NAME_MAX];
	int dfd, r;

	gadget_name(slot, name);
	rootfd = open(fs->gadget_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return errno == ENOENT ? 0 : -errno; /* no configfs, no gadget */
	dfd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno;
	r = remove_below(dfd, slot);
	close(dfd);
	if (r < 0)
		return r;
	if (unlinkat(rootfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
		r = -errno;
		gh_log(slot, "remove: rmdir %s: %s", name, strerror(-r));
		return r;
	}
	return 1;
}
