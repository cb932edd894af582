/* SPDX-License-Identifier: Apache-2.0 */
/* Strict parser of the configuration file: see config.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_FILE_MAX (64 * 1024)

/* Where we are in the file, for messages: "FILE: MountPoints.Slot_0.Timeout: ..." */
struct ctx {
	const char *file;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static int fail(struct ctx *c, const char *key, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s: %s: %s", c->file, key, what);
	return -EINVAL;
}

static bool all_chars_in(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') && !strchr(extra, *s))
			return false;
	return true;
}

bool vm_slot_name_valid(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && n <= VM_SLOT_NAME_MAX && all_chars_in(name, "_");
}

static bool udc_name_valid(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= VM_UDC_NAME_MAX && s[0] != '.' && all_chars_in(s, "._:-");
}

/* /dev/nbdN or nbdN (the reference's spelling), N without leading zeros: the
 * only block devices a slot may own.  Returns the N part, or NULL. */
static const char *nbd_device_number(const char *s)
{
	const char *d;
	size_t n;

	if (strncmp(s, "/dev/", 5) == 0)
		s += 5;
	if (strncmp(s, "nbd", 3) != 0)
		return NULL;
	d = s + 3;
	n = strlen(d);
	if (n >= 1 && n <= 4 && strspn(d, "0123456789") == n && !(d[0] == '0' && n > 1))
		return d;
	return NULL;
}

static bool socket_path_valid(const char *s)
{
	size_t n = strlen(s);
	return n > 1 && n <= VM_SOCKET_PATH_MAX && s[0] == '/' && s[n - 1] != '/' &&
	       !strstr(s, "/../") && !strstr(s, "/./") && !strstr(s, "//") &&
	       (n < 3 || strcmp(s + n - 3, "/..") != 0) && strcmp(s + n - 2, "/.") != 0 &&
	       all_chars_in(s, "/._-");
}

static int get_uint(struct ctx *c, json_t *v, const char *key, long long min, long long max,
		    unsigned *out)
{
	if (!json_is_integer(v))
		return fail(c, key, "must be an integer");
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return fail(c, key, "%lld is out of range (%lld to %lld)", json_integer_value(v), min, max);
	*out = (unsigned)json_integer_value(v);
	return 0;
}

static int get_string(struct ctx *c, json_t *v, const char *key, char *out, size_t size)
{
	if (!json_is_string(v))
		return fail(c, key, "must be a string");
	if (json_string_length(v) >= size)
		return fail(c, key, "is longer than %zu bytes", size - 1);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return fail(c, key, "contains a NUL character");
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int get_bool(struct ctx *c, json_t *v, const char *key, bool *out)
{
	if (!json_is_boolean(v))
		return fail(c, key, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

static int get_abs_path(struct ctx *c, json_t *v, const char *key, char *out, size_t size)
{
	int r = get_string(c, v, key, out, size);

	if (r == 0 && out[0] != '/')
		return fail(c, key, "must be an absolute path");
	return r;
}

/* The keys a slot may have and the top level may set for all slots. */
static int parse_tls_key(struct ctx *c, const char *key, json_t *v, const char *path,
			 struct vm_slot_config *s, bool *known)
{
	*known = true;
	if (strcmp(key, "CAFile") == 0)
		return get_abs_path(c, v, path, s->ca_file, sizeof s->ca_file);
	if (strcmp(key, "CAPath") == 0)
		return get_abs_path(c, v, path, s->ca_path, sizeof s->ca_path);
	if (strcmp(key, "AllowHTTP") == 0)
		return get_bool(c, v, path, &s->allow_http);
	if (strcmp(key, "AllowRedirects") == 0)
		return get_bool(c, v, path, &s->allow_redirects);
	*known = false;
	return 0;
}

static int parse_slot_key(struct ctx *c, const char *key, json_t *v, const char *path,
			  struct vm_slot_config *s, unsigned *seen)
{
	static const char *const keys[] = {
		"EndpointId", "Mode", "NBDDevice", "UnixSocket", "Timeout", "BlockSize",
		"InactivityTimeout", "Media",
	};
	bool known;
	unsigned mode, bit;
	char media[16];
	int r;

	if ((r = parse_tls_key(c, key, v, path, s, &known)) < 0 || known)
		return r;
	for (bit = 0; bit < sizeof keys / sizeof *keys; bit++)
		if (strcmp(key, keys[bit]) == 0)
			break;
	if (bit == sizeof keys / sizeof *keys)
		return fail(c, path, "unknown key");
	*seen |= 1u << bit;

	switch (bit) {
	case 0:
		if ((r = get_string(c, v, path, s->endpoint_id, sizeof s->endpoint_id)) < 0)
			return r;
		/* emptiness is checked against the mode once both are known */
		if (!all_chars_in(s->endpoint_id, "/._-"))
			return fail(c, path, "must be a path such as \"/nbd/0\", or \"\" (Legacy)");
		return 0;
	case 1:
		if ((r = get_uint(c, v, path, 0, 1, &mode)) < 0)
			return r;
		s->mode = mode == 0 ? VM_MODE_PROXY : VM_MODE_LEGACY;
		return 0;
	case 2: {
		const char *n;

		if ((r = get_string(c, v, path, s->nbd_device, sizeof s->nbd_device)) < 0)
			return r;
		if (!(n = nbd_device_number(s->nbd_device)))
			return fail(c, path, "\"%s\" is not an NBD device (/dev/nbdN or nbdN)",
				    s->nbd_device);
		/* one spelling from here on: the same device is the same string */
		memmove(s->nbd_device + 8, n, strlen(n) + 1);
		memcpy(s->nbd_device, "/dev/nbd", 8);
		return 0;
	}
	case 3:
		if ((r = get_string(c, v, path, s->unix_socket, sizeof s->unix_socket)) < 0)
			return r;
		if (!socket_path_valid(s->unix_socket))
			return fail(c, path, "must be a plain absolute path of at most %d bytes",
				    VM_SOCKET_PATH_MAX);
		return 0;
	case 4:
		return get_uint(c, v, path, 1, 3600, &s->timeout);
	case 5:
		if ((r = get_uint(c, v, path, 512, 4096, &s->block_size)) < 0)
			return r;
		if (s->block_size & (s->block_size - 1))
			return fail(c, path, "must be 512, 1024, 2048 or 4096");
		return 0;
	case 6:
		return get_uint(c, v, path, 0, 65535, &s->inactivity_timeout);
	case 7:
		if ((r = get_string(c, v, path, media, sizeof media)) < 0)
			return r;
		if (strcmp(media, "auto") == 0)
			s->media = VM_MEDIA_POLICY_AUTO;
		else if (strcmp(media, "cdrom") == 0)
			s->media = VM_MEDIA_POLICY_CDROM;
		else if (strcmp(media, "disk") == 0)
			s->media = VM_MEDIA_POLICY_DISK;
		else
			return fail(c, path, "must be \"auto\", \"cdrom\" or \"disk\"");
		return 0;
	}
	return -EINVAL;
}

static int parse_slot(struct ctx *c, const char *name, json_t *obj,
		      const struct vm_slot_config *defaults, struct vm_slot_config *s)
{
	/* keys that must be present: bits 0..5 of parse_slot_key's table */
	const unsigned required = 0x3f;
	static const char *const required_names[] = {
		"EndpointId", "Mode", "NBDDevice", "UnixSocket", "Timeout", "BlockSize",
	};
	char path[128];
	unsigned seen = 0;
	const char *key;
	json_t *v;
	int r;

	snprintf(path, sizeof path, "MountPoints.%s", name);
	if (!vm_slot_name_valid(name))
		return fail(c, path, "a slot name must be 1 to %d letters, digits or '_'",
			    VM_SLOT_NAME_MAX);
	if (!json_is_object(obj))
		return fail(c, path, "must be an object");

	*s = *defaults;
	memcpy(s->name, name, strlen(name) + 1);

	json_object_foreach(obj, key, v) {
		snprintf(path, sizeof path, "MountPoints.%s.%s", name, key);
		if ((r = parse_slot_key(c, key, v, path, s, &seen)) < 0)
			return r;
	}
	for (unsigned bit = 0; bit < 6; bit++)
		if ((required & (1u << bit)) && !(seen & (1u << bit))) {
			snprintf(path, sizeof path, "MountPoints.%s.%s", name, required_names[bit]);
			return fail(c, path, "missing");
		}
	/* bmcweb shows a slot with an EndpointId as a browser slot: a Proxy slot
	 * without one could never be reached (a Legacy one with one only warns) */
	if (s->mode == VM_MODE_PROXY && !s->endpoint_id[0]) {
		snprintf(path, sizeof path, "MountPoints.%s.EndpointId", name);
		return fail(c, path, "a Proxy slot (Mode 0) needs a path such as \"/nbd/0\"");
	}
	return 0;
}

static int check_unique(struct ctx *c, const struct vm_config *cfg)
{
	char path[128];

	for (size_t i = 0; i < cfg->n_slots; i++)
		for (size_t j = 0; j < i; j++) {
			const struct vm_slot_config *a = &cfg->slots[i], *b = &cfg->slots[j];
			const char *what = NULL;

			if (strcmp(a->nbd_device, b->nbd_device) == 0)
				what = "NBDDevice";
			else if (strcmp(a->unix_socket, b->unix_socket) == 0)
				what = "UnixSocket";
			else if (a->endpoint_id[0] && strcmp(a->endpoint_id, b->endpoint_id) == 0)
				what = "EndpointId";
			if (what) {
				snprintf(path, sizeof path, "MountPoints.%s.%s", a->name, what);
				return fail(c, path, "is the same as slot %s's", b->name);
			}
		}
	return 0;
}

static int parse_udcs(struct ctx *c, json_t *arr, struct vm_config *cfg)
{
	char path[64];
	size_t i;
	json_t *v;

	if (!json_is_array(arr))
		return fail(c, "AllowedUDCs", "must be an array of UDC names");
	if (json_array_size(arr) == 0 || json_array_size(arr) > VM_MAX_UDCS)
		return fail(c, "AllowedUDCs", "must list 1 to %d UDC names", VM_MAX_UDCS);
	json_array_foreach(arr, i, v) {
		int r;

		snprintf(path, sizeof path, "AllowedUDCs[%zu]", i);
		if ((r = get_string(c, v, path, cfg->udcs[i], sizeof cfg->udcs[i])) < 0)
			return r;
		if (!udc_name_valid(cfg->udcs[i]))
			return fail(c, path, "\"%s\" is not a UDC name", cfg->udcs[i]);
	}
	cfg->n_udcs = json_array_size(arr);
	return 0;
}

static int parse_root(struct ctx *c, json_t *root, struct vm_config *cfg)
{
	json_t *mps, *v;
	const char *key;
	int r;

	if (!json_is_object(root))
		return fail(c, "(top level)", "must be an object");
	json_object_foreach(root, key, v) {
		bool known = !strcmp(key, "InactivityTimeout") || !strcmp(key, "MountPoints") ||
			     !strcmp(key, "AllowedUDCs");
		unsigned ignored;

		if (!strcmp(key, "RetryCount") || !strcmp(key, "RetryInterval")) {
			/* the reference's: well-formed, or a typo could hide here */
			if ((r = get_uint(c, v, key, 0, 65535, &ignored)) < 0)
				return r;
			cfg->has_reference_retry_keys = true;
			continue;
		}
		if (!known && ((r = parse_tls_key(c, key, v, key, &cfg->defaults, &known)) < 0))
			return r;
		if (!known)
			return fail(c, key, "unknown key");
	}

	v = json_object_get(root, "InactivityTimeout");
	if (!v)
		return fail(c, "InactivityTimeout", "missing");
	if ((r = get_uint(c, v, "InactivityTimeout", 0, 65535, &cfg->inactivity_timeout)) < 0)
		return r;
	cfg->defaults.inactivity_timeout = cfg->inactivity_timeout;
	cfg->defaults.media = VM_MEDIA_POLICY_AUTO;
	if ((v = json_object_get(root, "AllowedUDCs")) && (r = parse_udcs(c, v, cfg)) < 0)
		return r;

	mps = json_object_get(root, "MountPoints");
	if (!mps)
		return fail(c, "MountPoints", "missing");
	if (!json_is_object(mps))
		return fail(c, "MountPoints", "must be an object");
	if (json_object_size(mps) == 0 || json_object_size(mps) > VM_MAX_SLOTS)
		return fail(c, "MountPoints", "must have 1 to %d slots", VM_MAX_SLOTS);
	json_object_foreach(mps, key, v) {
		if ((r = parse_slot(c, key, v, &cfg->defaults, &cfg->slots[cfg->n_slots])) < 0)
			return r;
		cfg->n_slots++;
	}
	return check_unique(c, cfg);
}

int vm_config_parse(const char *text, size_t len, const char *name,
		    struct vm_config *cfg, char *err, size_t errlen)
{
	struct ctx c = { .file = name, .err = err, .errlen = errlen };
	json_error_t jerr;
	json_t *root;
	int r;

	memset(cfg, 0, sizeof *cfg);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "%s:%d:%d: %s", name, jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	r = parse_root(&c, root, cfg);
	json_decref(root);
	if (r < 0)
		memset(cfg, 0, sizeof *cfg);
	return r;
}

int vm_config_load(const char *path, struct vm_config *cfg, char *err, size_t errlen)
{
	char *buf;
	struct stat st;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_FILE_MAX) {
		close(fd);
		snprintf(err, errlen, "%s: not a regular file of at most %d bytes", path, CONFIG_FILE_MAX);
		return -EINVAL;
	}
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	n = read(fd, buf, CONFIG_FILE_MAX + 1);
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r == 0 && n > CONFIG_FILE_MAX)
		r = -EFBIG;
	if (r < 0)
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-r));
	else
		r = vm_config_parse(buf, (size_t)n, path, cfg, err, errlen);
	free(buf);
	return r;
}

const struct vm_slot_config *vm_config_find_slot(const struct vm_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_slots; i++)
		if (strcmp(cfg->slots[i].name, name) == 0)
			return &cfg->slots[i];
	return NULL;
}

bool vm_config_udc_allowed(const struct vm_config *cfg, const char *udc)
{
	if (cfg->n_udcs == 0)
		return udc_name_valid(udc);
	for (size_t i = 0; i < cfg->n_udcs; i++)
		if (strcmp(cfg->udcs[i], udc) == 0)
			return true;
	return false;
}

const char *vm_mode_to_str(enum vm_mode mode)
{
	return mode == VM_MODE_PROXY ? "Proxy" : "Legacy";
}

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + 1 + strlen(name) + 1;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

char *vm_config_default_path(const char *dir)
{
	char *ours = join(dir, "virtual-media/config.json");
	char *reference = join(dir, VM_CONFIG_REFERENCE_NAME);

	if (!ours || !reference) {
		free(ours);
		free(reference);
		return NULL;
	}
	/* only a missing file of ours falls back: an unreadable one is an error
	 * to report, not a reason to read another file */
	if (access(ours, F_OK) < 0 && errno == ENOENT && access(reference, F_OK) == 0) {
		free(ours);
		return reference;
	}
	free(reference);
	return ours;
}

unsigned vm_slot_request_kb(const struct vm_slot_config *s)
{
	return s->mode == VM_MODE_PROXY ? VM_PROXY_REQUEST_KB : VM_LEGACY_REQUEST_KB;
}

bool vm_slot_endpoint_misleads(const struct vm_slot_config *s)
{
	return s->mode == VM_MODE_LEGACY && s->endpoint_id[0] != '\0';
}
