/* SPDX-License-Identifier: Apache-2.0 */
/* The slot's NBD device: its size as the kernel announces it (libudev, no
 * polling), disconnecting it, and what its content looks like. */
#pragma once

#include <gio/gio.h>

#include "common/msg.h"

typedef struct _NbdDevice NbdDevice;

/* Called when the kernel announces a change of the device's size. */
typedef void (*NbdDeviceSizeFunc)(guint64 size, gpointer user_data);

NbdDevice *nbd_device_new(const char *devnode, NbdDeviceSizeFunc on_size, gpointer user_data,
			  GError **error);
void nbd_device_free(NbdDevice *dev);

/* The size in bytes from sysfs now (0: nothing attached). */
guint64 nbd_device_size(NbdDevice *dev);

/* Ask the kernel to disconnect the device (NBD_DISCONNECT, then NBD_CLEAR_SOCK):
 * nbd-client's NBD_DO_IT returns and it exits.  0 or a negative errno. */
int nbd_device_disconnect(NbdDevice *dev);

/* Read the device's content in a thread and call back with VM_MEDIA_CDROM
 * for an ISO 9660 image, VM_MEDIA_DISK otherwise. */
void nbd_device_detect_media_async(NbdDevice *dev, GCancellable *cancellable,
				   GAsyncReadyCallback callback, gpointer user_data);
/* Returns the media, or -1 with error set. */
int nbd_device_detect_media_finish(NbdDevice *dev, GAsyncResult *res, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(NbdDevice, nbd_device_free)
