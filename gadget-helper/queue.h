/* SPDX-License-Identifier: Apache-2.0 */
/* The request size of a slot's NBD device, set from the config's mode.
 *
 * Why here: the largest request (max_sectors_kb) is a sysfs file of root's
 * with no ioctl, and a Proxy slot must keep it within what bmcweb forwards
 * (VM_PROXY_REQUEST_KB) while a Legacy slot wants more (VM_LEGACY_REQUEST_KB).
 * The worker is unprivileged under systemd, and a udev rule cannot tell a
 * Proxy device from a Legacy one; the helper is root already, reads the same
 * config and knows the slot it serves, so the value never comes from a
 * message.  It writes both files before any mount (CLEANUP, at the worker's
 * start) and again before exposing the device (CREATE): the kernel keeps them
 * across connections, and nbd's defaults (over 1 MiB per request on 6.1)
 * would reach bmcweb with the very first read-ahead. */
#pragma once

#include "common/config.h"
#include "gadget-helper/gadget.h"

#define GH_BLOCK_CLASS "/sys/block"

/* Sets queue/max_sectors_kb and queue/read_ahead_kb of the slot's device to
 * vm_slot_request_kb().  0, or the first negative errno. */
int gh_queue_limit(const struct gh_sysfs *fs, const struct vm_slot_config *slot);
