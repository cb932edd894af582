/* SPDX-License-Identifier: Apache-2.0 */
/* The worker's link to its gadget-helper: the setuid program that alone writes
 * configfs.  One request at a time; the helper is (re)started when needed. */
#pragma once

#include <glib.h>

#include "common/msg.h"

typedef struct _HelperLink HelperLink;

/* error: 0 or a positive errno; udc: the UDC the gadget was bound to ("" otherwise). */
typedef void (*HelperReplyFunc)(int error, const char *udc, gpointer user_data);

HelperLink *helper_link_new(const char *config_path);
void helper_link_free(HelperLink *h);

/* Send a GADGET_* request; the reply comes through cb.  At most one request
 * may be outstanding. */
void helper_link_request(HelperLink *h, const struct vm_msg *req, HelperReplyFunc cb,
			 gpointer user_data);

/* Start the helper now if none runs, so that its start overlaps other work
 * (nbd-client's) instead of delaying the first request. */
void helper_link_prestart(HelperLink *h);

/* Counts the helper's starts: a gadget created by an earlier helper must be
 * removed with GADGET_CLEANUP, since a new helper has not exposed anything. */
guint helper_link_generation(HelperLink *h);

/* Called when the helper goes away between requests (one that goes during a
 * request fails that request instead). */
void helper_link_set_lost_func(HelperLink *h, GFunc lost, gpointer user_data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(HelperLink, helper_link_free)
