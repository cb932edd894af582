/* SPDX-License-Identifier: Apache-2.0 */
/* Which USB device controller a slot's gadget is bound to: see udc.h.
 * Choosing a UDC that another gadget holds would steal the ports of the KVM's
 * keyboard and mouse, which is what the reference service did. */
#include "gadget-helper/udc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_CANDIDATES 32

struct candidates {
	size_t n;
	char name[MAX_CANDIDATES][VM_UDC_NAME_MAX + 1];
};

static void add(struct candidates *c, const char *name)
{
	if (c->n < MAX_CANDIDATES && strlen(name) <= VM_UDC_NAME_MAX)
		strcpy(c->name[c->n++], name);
}

static int not_hidden(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static int list_candidates(const struct gh_sysfs *fs, const struct vm_config *cfg,
			   struct candidates *c)
{
	struct dirent **list;
	int n;

	c->n = 0;
	if (cfg->n_udcs > 0) {
		_cleanup_close_ int dfd = open(fs->udc_class, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct stat st;

		if (dfd < 0)
			return errno == ENOENT ? 0 : -errno;
		/* names from the config: validated by config.c, no '/' */
		for (size_t i = 0; i < cfg->n_udcs; i++)
			if (fstatat(dfd, cfg->udcs[i], &st, 0) == 0)
				add(c, cfg->udcs[i]);
		return 0;
	}
	/* versionsort: "...vhub:p2" before "...vhub:p10" */
	n = scandir(fs->udc_class, &list, not_hidden, versionsort);
	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		if (vm_config_udc_allowed(cfg, list[i]->d_name))
			add(c, list[i]->d_name);
		free(list[i]);
	}
	free(list);
	return 0;
}

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

/* 1 when some gadget's UDC attribute names udc, else 0, or a negative errno. */
static int udc_taken(const struct gh_sysfs *fs, const char *udc)
{
	__attribute__((cleanup(closedirp))) DIR *d = opendir(fs->gadget_root);
	struct dirent *e;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		_cleanup_close_ int gfd = -1;
		char cur[256];

		if (e->d_name[0] == '.')
			continue;
		gfd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		/* unreadable: the kernel's EBUSY still guards the write */
		if (gfd < 0 || gh_attr_read(gfd, "UDC", cur, sizeof cur) < 0)
			continue;
		if (strcmp(cur, udc) == 0)
			return 1;
	}
	return 0;
}

int gh_udc_bind(const struct gh_sysfs *fs, const struct vm_config *cfg, int gadget_fd,
		char *udc, size_t size)
{
	struct candidates c;
	int r;

	if ((r = list_candidates(fs, cfg, &c)) < 0)
		return r;
	if (c.n == 0)
		return -ENODEV;
	for (size_t i = 0; i < c.n; i++) {
		if ((r = udc_taken(fs, c.name[i])) < 0)
			return r;
		if (r > 0)
			continue;
		r = gh_attr_write(gadget_fd, "UDC", c.name[i]);
		/* EBUSY: bound by someone else since we looked; ENODEV: gone since */
		if (r == -EBUSY || r == -ENODEV)
			continue;
		if (r < 0)
			return r;
		snprintf(udc, size, "%s", c.name[i]);
		return 0;
	}
	return -EBUSY;
}

int gh_udc_unbind(int gadget_fd)
{
	char cur[256];
	int r;

	r = gh_attr_read(gadget_fd, "UDC", cur, sizeof cur);
	if (r == -ENOENT || (r == 0 && cur[0] == '\0'))
		return 0;
	if (r < 0)
		return r;
	/* the kernel strips the newline; an empty name means unbind */
	return gh_attr_write(gadget_fd, "UDC", "\n");
}
