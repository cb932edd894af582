/* SPDX-License-Identifier: Apache-2.0 */
/* The service's configuration file (JSON, the seed design's format plus a few
 * optional keys), parsed strictly with jansson.  Every error names the file,
 * the slot and the key.
 *
 * Plain C (no GLib): the gadget-helper reads the same file to validate what
 * it is asked to do.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define VM_CONFIG_DEFAULT_PATH SYSCONFDIR "/virtual-media/config.json"
/* Where the reference C++ service reads the same format: used when the file
 * above does not exist, so that swapping services keeps a machine's config. */
#define VM_CONFIG_REFERENCE_NAME "virtual-media.json"

/* The largest NBD request (KiB) a slot's device may send.  Proxy: bmcweb
 * forwards each reply of the browser's jsnbd as one WebSocket message of at
 * most 128 KiB + the 16-byte header and ends the session on a larger one.
 * Legacy: our own nbdkit takes anything; 1 MiB costs a round trip to the image
 * server per MiB instead of per 128 KiB (make bench). */
#define VM_PROXY_REQUEST_KB 128
#define VM_LEGACY_REQUEST_KB 1024

#define VM_SLOT_NAME_MAX 32   /* a D-Bus object path element: [A-Za-z0-9_] */
#define VM_MAX_SLOTS 64
#define VM_MAX_UDCS 16
#define VM_UDC_NAME_MAX 64
#define VM_SOCKET_PATH_MAX 107 /* sizeof(sun_path) - 1 */

enum vm_mode {
	VM_MODE_PROXY = 0,
	VM_MODE_LEGACY = 1,
};

/* How the image is shown to the host: detected from its content, or forced. */
enum vm_media_policy {
	VM_MEDIA_POLICY_AUTO = 0,
	VM_MEDIA_POLICY_CDROM,
	VM_MEDIA_POLICY_DISK,
};

struct vm_slot_config {
	char name[VM_SLOT_NAME_MAX + 1];
	char endpoint_id[256];
	enum vm_mode mode;
	char nbd_device[32];
	char unix_socket[VM_SOCKET_PATH_MAX + 1];
	unsigned timeout;            /* seconds, passed to nbd-client */
	unsigned block_size;         /* 512, 1024, 2048 or 4096 */
	unsigned inactivity_timeout; /* seconds, 0 = never; the global value unless overridden */
	enum vm_media_policy media;
	/* Legacy https:// images; the global value unless the slot overrides it */
	char ca_file[256];     /* a CA bundle to verify servers with ("": the system's) */
	char ca_path[256];     /* a directory of hashed CA certificates ("": none) */
	bool allow_http;       /* plain http:// (no TLS) is refused unless this is set */
	bool allow_redirects;  /* an HTTP redirect is refused unless this is set */
};

struct vm_config {
	unsigned inactivity_timeout;
	struct vm_slot_config defaults; /* the global CAFile, CAPath, AllowHTTP, AllowRedirects */
	size_t n_udcs; /* 0: any free UDC may be used */
	char udcs[VM_MAX_UDCS][VM_UDC_NAME_MAX + 1];
	size_t n_slots;
	struct vm_slot_config slots[VM_MAX_SLOTS];
	/* The reference's RetryCount and RetryInterval were present: accepted,
	 * without effect (the reference never read them either). */
	bool has_reference_retry_keys;
};

/* Returns 0, or a negative errno with a message in err ("FILE: KEY: what"). */
int vm_config_load(const char *path, struct vm_config *cfg, char *err, size_t errlen);

/* The same for text already in memory; name stands for the file in messages. */
int vm_config_parse(const char *text, size_t len, const char *name,
		    struct vm_config *cfg, char *err, size_t errlen);

const struct vm_slot_config *vm_config_find_slot(const struct vm_config *cfg, const char *name);
bool vm_config_udc_allowed(const struct vm_config *cfg, const char *udc);

const char *vm_mode_to_str(enum vm_mode mode);

/* The file to read when none is given: DIR/virtual-media/config.json, or
 * DIR/virtual-media.json (the reference's) when only that one exists.  DIR is
 * SYSCONFDIR outside of tests.  Returns a malloc'ed path. */
char *vm_config_default_path(const char *dir);

/* VM_PROXY_REQUEST_KB or VM_LEGACY_REQUEST_KB, by the slot's mode. */
unsigned vm_slot_request_kb(const struct vm_slot_config *s);

/* A Legacy slot with a non-empty EndpointId: bmcweb shows it as a browser
 * (Proxy) slot and serves a WebSocket for it.  Loads, but deserves a warning. */
bool vm_slot_endpoint_misleads(const struct vm_slot_config *s);
bool vm_slot_name_valid(const char *name);
