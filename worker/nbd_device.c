/* SPDX-License-Identifier: Apache-2.0 */
/* The slot's NBD device: see nbd_device.h. */
#include "worker/nbd_device.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <libudev.h>
#include <linux/fs.h>
#include <linux/nbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* ISO 9660: the primary volume descriptor is sector 16 (of 2048 bytes), and
 * every volume descriptor starts with a type byte and "CD001". */
#define ISO9660_PVD_OFFSET (16 * 2048)
#define ISO9660_MAGIC "CD001"

struct _NbdDevice {
	char *devnode;  /* /dev/nbdN */
	char *sysname;  /* nbdN */
	char *size_path; /* /sys/block/nbdN/size */
	struct udev *udev;
	struct udev_monitor *monitor;
	guint watch;
	NbdDeviceSizeFunc on_size;
	gpointer user_data;
};

guint64 nbd_device_size(NbdDevice *dev)
{
	g_autofree char *text = NULL;

	if (!g_file_get_contents(dev->size_path, &text, NULL, NULL))
		return 0;
	return g_ascii_strtoull(text, NULL, 10) * 512; /* sysfs counts 512-byte sectors */
}

static gboolean on_uevent(gint fd, GIOCondition cond, gpointer data)
{
	NbdDevice *dev = data;
	struct udev_device *d;
	gboolean ours;

	d = udev_monitor_receive_device(dev->monitor);
	if (!d)
		return G_SOURCE_CONTINUE;
	ours = g_strcmp0(udev_device_get_sysname(d), dev->sysname) == 0 &&
	       g_strcmp0(udev_device_get_action(d), "change") == 0;
	udev_device_unref(d);
	if (ours)
		dev->on_size(nbd_device_size(dev), dev->user_data);
	return G_SOURCE_CONTINUE;
}

NbdDevice *nbd_device_new(const char *devnode, NbdDeviceSizeFunc on_size, gpointer user_data,
			  GError **error)
{
	g_autoptr(NbdDevice) dev = g_new0(NbdDevice, 1);

	dev->devnode = g_strdup(devnode);
	dev->sysname = g_path_get_basename(devnode);
	dev->size_path = g_strdup_printf("/sys/block/%s/size", dev->sysname);
	dev->on_size = on_size;
	dev->user_data = user_data;

	dev->udev = udev_new();
	/* "kernel": the raw uevents, no udevd needed; the kernel sends a "change"
	 * event whenever nbd sets or clears the device's size. */
	dev->monitor = dev->udev ? udev_monitor_new_from_netlink(dev->udev, "kernel") : NULL;
	if (!dev->monitor ||
	    udev_monitor_filter_add_match_subsystem_devtype(dev->monitor, "block", "disk") < 0 ||
	    udev_monitor_enable_receiving(dev->monitor) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "cannot watch block devices with libudev: %s", g_strerror(errno));
		return NULL;
	}
	dev->watch = g_unix_fd_add(udev_monitor_get_fd(dev->monitor), G_IO_IN, on_uevent, dev);
	return g_steal_pointer(&dev);
}

void nbd_device_free(NbdDevice *dev)
{
	if (!dev)
		return;
	if (dev->watch)
		g_source_remove(dev->watch);
	if (dev->monitor)
		udev_monitor_unref(dev->monitor);
	if (dev->udev)
		udev_unref(dev->udev);
	g_free(dev->devnode);
	g_free(dev->sysname);
	g_free(dev->size_path);
	g_free(dev);
}

int nbd_device_disconnect(NbdDevice *dev)
{
	int fd, r = 0;

	fd = open(dev->devnode, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, NBD_DISCONNECT) < 0)
		r = -errno;
	/* CLEAR_SOCK fails with EBUSY while nbd-client is still in NBD_DO_IT:
	 * nbd-client clears it itself when that returns. */
	(void)ioctl(fd, NBD_CLEAR_SOCK);
	close(fd);
	return r;
}

static void detect_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *c)
{
	const char *devnode = task_data;
	char buf[6];
	ssize_t n;
	int fd;

	fd = open(devnode, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		g_task_return_new_error(task, G_IO_ERROR, g_io_error_from_errno(e),
					"cannot open %s: %s", devnode, g_strerror(e));
		return;
	}
	n = pread(fd, buf, sizeof buf, ISO9660_PVD_OFFSET);
	if (n < 0) {
		int e = errno;
		close(fd);
		g_task_return_new_error(task, G_IO_ERROR, g_io_error_from_errno(e),
					"cannot read %s: %s", devnode, g_strerror(e));
		return;
	}
	close(fd);
	/* an image shorter than the descriptor is no ISO */
	g_task_return_int(task, n == sizeof buf && memcmp(buf + 1, ISO9660_MAGIC, 5) == 0
					? VM_MEDIA_CDROM : VM_MEDIA_DISK);
}

void nbd_device_detect_media_async(NbdDevice *dev, GCancellable *cancellable,
				   GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);

	g_task_set_task_data(task, g_strdup(dev->devnode), g_free);
	g_task_run_in_thread(task, detect_thread);
}

int nbd_device_detect_media_finish(NbdDevice *dev, GAsyncResult *res, GError **error)
{
	return (int)g_task_propagate_int(G_TASK(res), error);
}
