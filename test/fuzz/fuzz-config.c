/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the configuration parser (common/config.c, vm_config_parse(): the
 * text as read from the file, not NUL-terminated, as vm_config_load() passes
 * it).  The gadget-helper, which runs as root, trusts what it returns.
 *
 * Invariants:
 *  - a refusal is -EINVAL with a message naming the file, and an all-zero
 *    config (no half-parsed slots for a caller that ignores the error);
 *  - an accepted config keeps every promise of config.h: 1 to VM_MAX_SLOTS
 *    slots with valid, distinct names, each with its own /dev/nbdN, socket and
 *    EndpointId, values in range, every string terminated in its buffer;
 *  - parsing is deterministic: the same text gives the same config. */
#include <errno.h>
#include <string.h>

#include "common/config.h"
#include "test/fuzz/fuzz.h"

#define NAME "fuzz.json"

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static void check_slot(const struct vm_config *cfg, const struct vm_slot_config *s)
{
	FUZZ_ASSERT(terminated(s->name, sizeof s->name) && vm_slot_name_valid(s->name));
	FUZZ_ASSERT(vm_config_find_slot(cfg, s->name) == s);
	FUZZ_ASSERT(terminated(s->endpoint_id, sizeof s->endpoint_id));
	/* bmcweb shows a slot with an endpoint as a browser slot: a Proxy slot
	 * must have one; a Legacy slot may (with a warning) or may not */
	FUZZ_ASSERT(s->endpoint_id[0] || s->mode == VM_MODE_LEGACY);
	FUZZ_ASSERT(terminated(s->nbd_device, sizeof s->nbd_device));
	FUZZ_ASSERT(strncmp(s->nbd_device, "/dev/nbd", 8) == 0 && s->nbd_device[8]);
	FUZZ_ASSERT(strspn(s->nbd_device + 8, "0123456789") == strlen(s->nbd_device + 8));
	FUZZ_ASSERT(terminated(s->unix_socket, sizeof s->unix_socket));
	FUZZ_ASSERT(s->unix_socket[0] == '/' && !strstr(s->unix_socket, "/../"));
	FUZZ_ASSERT(s->mode == VM_MODE_PROXY || s->mode == VM_MODE_LEGACY);
	FUZZ_ASSERT(s->timeout >= 1 && s->timeout <= 3600);
	FUZZ_ASSERT(s->block_size >= 512 && s->block_size <= 4096 &&
		    !(s->block_size & (s->block_size - 1)));
	FUZZ_ASSERT(s->inactivity_timeout <= 65535);
	FUZZ_ASSERT(s->media <= VM_MEDIA_POLICY_DISK);
	FUZZ_ASSERT(terminated(s->ca_file, sizeof s->ca_file));
	FUZZ_ASSERT(!s->ca_file[0] || s->ca_file[0] == '/');
	FUZZ_ASSERT(terminated(s->ca_path, sizeof s->ca_path));
	FUZZ_ASSERT(!s->ca_path[0] || s->ca_path[0] == '/');
}

static void check_accepted(const struct vm_config *cfg)
{
	FUZZ_ASSERT(cfg->n_slots >= 1 && cfg->n_slots <= VM_MAX_SLOTS);
	FUZZ_ASSERT(cfg->inactivity_timeout <= 65535);
	FUZZ_ASSERT(cfg->n_udcs <= VM_MAX_UDCS);
	for (size_t i = 0; i < cfg->n_udcs; i++) {
		FUZZ_ASSERT(terminated(cfg->udcs[i], sizeof cfg->udcs[i]));
		FUZZ_ASSERT(cfg->udcs[i][0] && cfg->udcs[i][0] != '.' && !strchr(cfg->udcs[i], '/'));
		FUZZ_ASSERT(vm_config_udc_allowed(cfg, cfg->udcs[i]));
	}
	for (size_t i = 0; i < cfg->n_slots; i++) {
		const struct vm_slot_config *a = &cfg->slots[i];

		check_slot(cfg, a);
		for (size_t j = 0; j < i; j++) {
			const struct vm_slot_config *b = &cfg->slots[j];

			FUZZ_ASSERT(strcmp(a->name, b->name) != 0);
			FUZZ_ASSERT(strcmp(a->nbd_device, b->nbd_device) != 0);
			FUZZ_ASSERT(strcmp(a->unix_socket, b->unix_socket) != 0);
			FUZZ_ASSERT(!a->endpoint_id[0] || strcmp(a->endpoint_id, b->endpoint_id) != 0);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* 150 KiB each: static, not on the stack */
	static struct vm_config cfg, again;
	static const struct vm_config zero;
	char err[512] = "", err2[512] = "";
	int r;

	r = vm_config_parse((const char *)data, size, NAME, &cfg, err, sizeof err);
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL);
		FUZZ_ASSERT(strncmp(err, NAME, strlen(NAME)) == 0);
		FUZZ_ASSERT(memcmp(&cfg, &zero, sizeof cfg) == 0);
	} else {
		FUZZ_ASSERT(r == 0);
		check_accepted(&cfg);
	}
	FUZZ_ASSERT(vm_config_parse((const char *)data, size, NAME, &again, err2, sizeof err2) == r);
	FUZZ_ASSERT(memcmp(&cfg, &again, sizeof cfg) == 0);
	FUZZ_ASSERT(strcmp(err, err2) == 0);
	return 0;
}
