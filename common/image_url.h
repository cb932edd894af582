/* SPDX-License-Identifier: Apache-2.0 */
/* The URL of a Legacy image: parsed with GUri and checked strictly before any
 * process acts on it (the supervisor refuses a bad one, the worker checks
 * again: it trusts nothing it is sent). */
#pragma once

#include <glib.h>

typedef enum {
	VM_URL_HTTPS,
	VM_URL_HTTP, /* only where the configuration allows it */
	VM_URL_SMB,
	VM_URL_NFS,
} VmUrlScheme;

typedef struct {
	VmUrlScheme scheme;
	char *host;
	int port;     /* -1: the scheme's default */
	char *path;   /* decoded, absolute */
} VmImageUrl;

/* FALSE with a message that says what is wrong (never echoing control characters). */
gboolean vm_image_url_parse(const char *url, VmImageUrl *out, GError **error);
void vm_image_url_clear(VmImageUrl *u);
/* Whether the image is a file on a network share that the worker mounts
 * (smb://, nfs://): only such an image can be mounted read-write. */
gboolean vm_url_scheme_is_share(VmUrlScheme scheme);
