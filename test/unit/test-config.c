/* SPDX-License-Identifier: Apache-2.0 */
/* The configuration file parser (common/config.c): the shipped layout, and an
 * error naming the file and the key for each thing that can be wrong. */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <string.h>

#include "common/config.h"

#define SLOT(n, mode, ep) \
	"    \"Slot_" #n "\": {\n" \
	"      \"EndpointId\": \"" ep "\",\n" \
	"      \"Mode\": " #mode ",\n" \
	"      \"NBDDevice\": \"/dev/nbd" #n "\",\n" \
	"      \"UnixSocket\": \"/run/virtual-media/nbd" #n ".sock\",\n" \
	"      \"Timeout\": 30,\n" \
	"      \"BlockSize\": 512\n" \
	"    }"

/* The layout of conf/config.json: two Proxy slots, then two Legacy ones
 * (whose EndpointId is "": bmcweb shows them as URL slots). */
static const char shipped[] =
	"{\n"
	"  \"InactivityTimeout\": 1800,\n"
	"  \"MountPoints\": {\n"
	SLOT(0, 0, "/nbd/0") ",\n" SLOT(1, 0, "/nbd/1") ",\n" SLOT(2, 1, "") ",\n"
	SLOT(3, 1, "") "\n"
	"  }\n"
	"}\n";

/* The reference service's shipped /etc/virtual-media.json, as machine layers
 * carry it: bare device names, Legacy endpoints "", Timeout 90 for Legacy,
 * and two top-level keys of its own. */
static const char reference[] =
	"{\n"
	"  \"InactivityTimeout\": 1800,\n"
	"  \"RetryCount\": 3,\n"
	"  \"RetryInterval\": 15,\n"
	"  \"MountPoints\": {\n"
	"    \"Slot_0\": { \"EndpointId\": \"/nbd/0\", \"Mode\": 0, \"NBDDevice\": \"nbd0\",\n"
	"      \"UnixSocket\": \"/run/virtual-media/nbd0.sock\", \"Timeout\": 30, \"BlockSize\": 512 },\n"
	"    \"Slot_1\": { \"EndpointId\": \"/nbd/1\", \"Mode\": 0, \"NBDDevice\": \"nbd1\",\n"
	"      \"UnixSocket\": \"/run/virtual-media/nbd1.sock\", \"Timeout\": 30, \"BlockSize\": 512 },\n"
	"    \"Slot_2\": { \"EndpointId\": \"\", \"Mode\": 1, \"NBDDevice\": \"nbd2\",\n"
	"      \"UnixSocket\": \"/run/virtual-media/nbd2.sock\", \"Timeout\": 90, \"BlockSize\": 512 },\n"
	"    \"Slot_3\": { \"EndpointId\": \"\", \"Mode\": 1, \"NBDDevice\": \"nbd3\",\n"
	"      \"UnixSocket\": \"/run/virtual-media/nbd3.sock\", \"Timeout\": 90, \"BlockSize\": 512 }\n"
	"  }\n"
	"}\n";

static int parse(const char *text, struct vm_config *cfg, char *err, size_t errlen)
{
	err[0] = '\0';
	return vm_config_parse(text, strlen(text), "test.json", cfg, err, errlen);
}

static void test_shipped(void)
{
	struct vm_config cfg;
	char err[512];

	g_assert_cmpint(parse(shipped, &cfg, err, sizeof err), ==, 0);
	g_assert_cmpuint(cfg.inactivity_timeout, ==, 1800);
	g_assert_cmpuint(cfg.n_udcs, ==, 0);
	g_assert_cmpuint(cfg.n_slots, ==, 4);
	for (unsigned i = 0; i < 4; i++) {
		const struct vm_slot_config *s = &cfg.slots[i];
		g_autofree char *name = g_strdup_printf("Slot_%u", i);
		g_autofree char *dev = g_strdup_printf("/dev/nbd%u", i);
		g_autofree char *ep = i < 2 ? g_strdup_printf("/nbd/%u", i) : g_strdup("");
		g_autofree char *sock = g_strdup_printf("/run/virtual-media/nbd%u.sock", i);

		g_assert_cmpstr(s->name, ==, name); /* in the file's order */
		g_assert_cmpint(s->mode, ==, i < 2 ? VM_MODE_PROXY : VM_MODE_LEGACY);
		g_assert_cmpstr(s->nbd_device, ==, dev);
		g_assert_cmpstr(s->endpoint_id, ==, ep);
		g_assert_cmpstr(s->unix_socket, ==, sock);
		g_assert_cmpuint(s->timeout, ==, 30);
		g_assert_cmpuint(s->block_size, ==, 512);
		g_assert_cmpuint(s->inactivity_timeout, ==, 1800);
		g_assert_cmpint(s->media, ==, VM_MEDIA_POLICY_AUTO);
		g_assert_true(vm_config_find_slot(&cfg, name) == s);
		g_assert_false(vm_slot_endpoint_misleads(s));
		g_assert_cmpuint(vm_slot_request_kb(s), ==, i < 2 ? 128 : 1024);
	}
	g_assert_false(cfg.has_reference_retry_keys);
	g_assert_null(vm_config_find_slot(&cfg, "Slot_4"));
	g_assert_null(vm_config_find_slot(&cfg, "slot_0"));
	g_assert_null(vm_config_find_slot(&cfg, ""));
	g_assert_cmpstr(vm_mode_to_str(VM_MODE_PROXY), ==, "Proxy");
	g_assert_cmpstr(vm_mode_to_str(VM_MODE_LEGACY), ==, "Legacy");
	/* no AllowedUDCs: any well-formed UDC name */
	g_assert_true(vm_config_udc_allowed(&cfg, "1e6a0000.usb-vhub:p1"));
	g_assert_true(vm_config_udc_allowed(&cfg, "dummy_udc.0"));
	g_assert_false(vm_config_udc_allowed(&cfg, ""));
	g_assert_false(vm_config_udc_allowed(&cfg, ".."));
	g_assert_false(vm_config_udc_allowed(&cfg, "a/b"));
}

/* --- variations of the shipped file, one key at a time --------------------- */

static json_t *doc(void)
{
	json_error_t e;
	json_t *root = json_loads(shipped, 0, &e);

	g_assert_nonnull(root);
	return root;
}

static json_t *slot(json_t *root, const char *name)
{
	json_t *s = json_object_get(json_object_get(root, "MountPoints"), name);
	g_assert_nonnull(s);
	return s;
}

/* The shipped document with one string key of one slot set. */
static json_t *doc_with(const char *slot_name, const char *key, const char *value)
{
	json_t *root = doc();

	json_object_set_new(slot(root, slot_name), key, json_string(value));
	return root;
}

static char *dump(json_t *root)
{
	char *text = json_dumps(root, JSON_INDENT(2));
	g_assert_nonnull(text);
	json_decref(root);
	return text;
}

/* root (consumed) must be refused with "test.json: KEY: ...WHAT..." */
static void expect_error(json_t *root, const char *key, const char *what)
{
	char *text = dump(root);
	g_autofree char *prefix = g_strdup_printf("test.json: %s: ", key);
	struct vm_config cfg;
	char err[512];

	g_assert_cmpint(parse(text, &cfg, err, sizeof err), ==, -EINVAL);
	if (g_test_verbose())
		g_printerr("%s\n", err);
	if (!g_str_has_prefix(err, prefix) || (what && !strstr(err, what)))
		g_error("expected \"%s...%s\", got \"%s\"", prefix, what ? what : "", err);
	/* nothing half-parsed is left behind */
	g_assert_cmpuint(cfg.n_slots, ==, 0);
	free(text);
}

static void expect_ok(json_t *root, struct vm_config *cfg)
{
	char *text = dump(root);
	char err[512];

	if (parse(text, cfg, err, sizeof err) != 0)
		g_error("unexpected error: %s", err);
	free(text);
}

static void test_missing(void)
{
	static const char *const required[] = {
		"EndpointId", "Mode", "NBDDevice", "UnixSocket", "Timeout", "BlockSize",
	};
	json_t *root;

	for (size_t i = 0; i < G_N_ELEMENTS(required); i++) {
		g_autofree char *key = g_strdup_printf("MountPoints.Slot_1.%s", required[i]);
		root = doc();
		json_object_del(slot(root, "Slot_1"), required[i]);
		expect_error(root, key, "missing");
	}
	root = doc();
	json_object_del(root, "InactivityTimeout");
	expect_error(root, "InactivityTimeout", "missing");
	root = doc();
	json_object_del(root, "MountPoints");
	expect_error(root, "MountPoints", "missing");
	root = doc();
	json_object_clear(json_object_get(root, "MountPoints"));
	expect_error(root, "MountPoints", NULL);
}

static void test_wrong_type(void)
{
	json_t *root;

	root = doc_with("Slot_0", "Timeout", "30");
	expect_error(root, "MountPoints.Slot_0.Timeout", "integer");
	root = doc();
	json_object_set_new(slot(root, "Slot_0"), "Timeout", json_real(30.0));
	expect_error(root, "MountPoints.Slot_0.Timeout", "integer");
	root = doc();
	json_object_set_new(slot(root, "Slot_2"), "Mode", json_true());
	expect_error(root, "MountPoints.Slot_2.Mode", "integer");
	root = doc();
	json_object_set_new(slot(root, "Slot_3"), "NBDDevice", json_integer(3));
	expect_error(root, "MountPoints.Slot_3.NBDDevice", "string");
	root = doc();
	json_object_set_new(slot(root, "Slot_3"), "UnixSocket", json_null());
	expect_error(root, "MountPoints.Slot_3.UnixSocket", "string");
	root = doc();
	json_object_set_new(json_object_get(root, "MountPoints"), "Slot_1", json_array());
	expect_error(root, "MountPoints.Slot_1", "object");
	root = doc();
	json_object_set_new(root, "MountPoints", json_array());
	expect_error(root, "MountPoints", "object");
	root = doc();
	json_object_set_new(root, "InactivityTimeout", json_string("1800"));
	expect_error(root, "InactivityTimeout", "integer");
	expect_error(json_array(), "(top level)", "object");
}

static void test_unknown_key(void)
{
	json_t *root;

	root = doc();
	json_object_set_new(root, "InactivityTimout", json_integer(1));
	expect_error(root, "InactivityTimout", "unknown key");
	root = doc();
	json_object_set_new(slot(root, "Slot_2"), "Blocksize", json_integer(512));
	expect_error(root, "MountPoints.Slot_2.Blocksize", "unknown key");
}

static void test_duplicates(void)
{
	json_t *root;

	root = doc_with("Slot_3", "NBDDevice", "/dev/nbd1");
	expect_error(root, "MountPoints.Slot_3.NBDDevice", "Slot_1");
	root = doc();
	json_object_set_new(slot(root, "Slot_2"), "UnixSocket",
			    json_string("/run/virtual-media/nbd0.sock"));
	expect_error(root, "MountPoints.Slot_2.UnixSocket", "Slot_0");
	root = doc_with("Slot_1", "EndpointId", "/nbd/0");
	expect_error(root, "MountPoints.Slot_1.EndpointId", "Slot_0");
}

static void expect_range(const char *slot_name, const char *key, json_int_t bad, json_int_t good)
{
	g_autofree char *path = g_strdup_printf("MountPoints.%s.%s", slot_name, key);
	struct vm_config cfg;
	json_t *root;

	root = doc();
	json_object_set_new(slot(root, slot_name), key, json_integer(bad));
	expect_error(root, path, NULL);
	root = doc();
	json_object_set_new(slot(root, slot_name), key, json_integer(good));
	expect_ok(root, &cfg);
}

static void test_ranges(void)
{
	struct vm_config cfg;
	json_t *root;

	expect_range("Slot_0", "Timeout", 0, 1);
	expect_range("Slot_0", "Timeout", 3601, 3600);
	expect_range("Slot_0", "Timeout", -1, 30);
	expect_range("Slot_1", "BlockSize", 256, 4096);
	expect_range("Slot_1", "BlockSize", 8192, 2048);
	expect_range("Slot_1", "BlockSize", 1000, 1024);
	expect_range("Slot_1", "BlockSize", 3072, 512);
	expect_range("Slot_0", "Mode", 2, 1);
	expect_range("Slot_0", "Mode", -1, 0);
	expect_range("Slot_2", "InactivityTimeout", 65536, 65535);
	expect_range("Slot_2", "InactivityTimeout", -1, 0);
	root = doc();
	json_object_set_new(root, "InactivityTimeout", json_integer(65536));
	expect_error(root, "InactivityTimeout", "out of range");
	root = doc();
	json_object_set_new(root, "InactivityTimeout", json_integer(0));
	expect_ok(root, &cfg);
	g_assert_cmpuint(cfg.slots[0].inactivity_timeout, ==, 0);
}

static void test_slot_name(void)
{
	static const char *const bad[] = {
		"Slot-0", "Slot 0", "", "Slot.0", "../x", "Slöt",
		"S23456789012345678901234567890123", /* 33 */
	};
	struct vm_config cfg;
	json_t *root, *mps, *s;

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *path = g_strdup_printf("MountPoints.%s", bad[i]);
		root = doc();
		mps = json_object_get(root, "MountPoints");
		s = json_incref(slot(root, "Slot_1"));
		json_object_del(mps, "Slot_1");
		json_object_set_new(mps, bad[i], s);
		expect_error(root, path, "slot name");
	}
	root = doc();
	mps = json_object_get(root, "MountPoints");
	s = json_incref(slot(root, "Slot_1"));
	json_object_del(mps, "Slot_1");
	json_object_set_new(mps, "S2345678901234567890123456789012", s); /* 32 */
	expect_ok(root, &cfg);
	g_assert_nonnull(vm_config_find_slot(&cfg, "S2345678901234567890123456789012"));
	g_assert_true(vm_slot_name_valid("Slot_0"));
	g_assert_false(vm_slot_name_valid("Slot/0"));
}

static void test_nbd_device(void)
{
	static const char *const bad[] = {
		"/dev/sda", "/dev/nbd", "/dev/nbd01", "/dev/nbd0/../sda", "/dev/nbd0 ", " /dev/nbd0",
		"/dev/nbd12345", "dev/nbd0", "/dev//nbd0", "/dev/nbd-1", "/dev/nbd0p1", "/tmp/nbd0",
		/* the reference's bare names: the same devices, one spelling */
		"nbd", "nbd01", "nbd-1", "nbd0p1", "nbd12345", "sda", "nbd0/", "/nbd0", "/dev/nbd/0",
		"NBD0",
	};
	struct vm_config cfg;
	json_t *root;

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		root = doc_with("Slot_0", "NBDDevice", bad[i]);
		expect_error(root, "MountPoints.Slot_0.NBDDevice", "NBD device");
	}
	root = doc_with("Slot_0", "NBDDevice", "/dev/nbd1023");
	expect_ok(root, &cfg);
	g_assert_cmpstr(cfg.slots[0].nbd_device, ==, "/dev/nbd1023");
	root = doc_with("Slot_0", "NBDDevice", "nbd7");
	json_object_set_new(slot(root, "Slot_1"), "NBDDevice", json_string("nbd1023"));
	expect_ok(root, &cfg);
	g_assert_cmpstr(cfg.slots[0].nbd_device, ==, "/dev/nbd7");
	g_assert_cmpstr(cfg.slots[1].nbd_device, ==, "/dev/nbd1023");
	/* duplicates across the spellings, either way round */
	root = doc_with("Slot_3", "NBDDevice", "nbd1");
	expect_error(root, "MountPoints.Slot_3.NBDDevice", "Slot_1");
	root = doc_with("Slot_0", "NBDDevice", "nbd3");
	expect_error(root, "MountPoints.Slot_3.NBDDevice", "Slot_0");
}

static void test_unix_socket(void)
{
	static const char *const bad[] = {
		"relative.sock", "/", "/run/../etc/x", "/run/./x", "/run//x", "/run/x/", "/run/..",
		"/run/.", "/run/x y", "/run/x;y",
	};
	static const char *const good[] = { "/a", "/run/a.b-c_d", "/run/...", "/run/..x" };
	struct vm_config cfg;
	json_t *root;

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		root = doc_with("Slot_0", "UnixSocket", bad[i]);
		expect_error(root, "MountPoints.Slot_0.UnixSocket", NULL);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
		root = doc_with("Slot_0", "UnixSocket", good[i]);
		expect_ok(root, &cfg);
	}
	/* longer than sun_path */
	root = doc();
	g_autofree char *longer = g_strnfill(VM_SOCKET_PATH_MAX + 1, 'x');
	longer[0] = '/';
	json_object_set_new(slot(root, "Slot_0"), "UnixSocket", json_string(longer));
	expect_error(root, "MountPoints.Slot_0.UnixSocket", NULL);
}

/* The mode decides: a Proxy slot needs an endpoint (bmcweb's WebSocket), a
 * Legacy one has "" (bmcweb shows a URL slot), or keeps an old one with a
 * warning. */
static void test_endpoint_per_mode(void)
{
	struct vm_config cfg;
	json_t *root;

	root = doc_with("Slot_0", "EndpointId", "");
	expect_error(root, "MountPoints.Slot_0.EndpointId", "Proxy");
	root = doc_with("Slot_1", "EndpointId", "nbd 1");
	expect_error(root, "MountPoints.Slot_1.EndpointId", "path");

	/* two Legacy slots with "": no duplicate */
	root = doc();
	expect_ok(root, &cfg);
	g_assert_cmpstr(cfg.slots[2].endpoint_id, ==, "");
	g_assert_cmpstr(cfg.slots[3].endpoint_id, ==, "");

	/* an old config's Legacy endpoint: loads, flagged for the warning */
	root = doc_with("Slot_2", "EndpointId", "/nbd/2");
	expect_ok(root, &cfg);
	g_assert_cmpstr(cfg.slots[2].endpoint_id, ==, "/nbd/2");
	g_assert_true(vm_slot_endpoint_misleads(&cfg.slots[2]));
	g_assert_false(vm_slot_endpoint_misleads(&cfg.slots[0]));
	g_assert_false(vm_slot_endpoint_misleads(&cfg.slots[3]));
	/* ... and still unique among the non-empty ones */
	root = doc_with("Slot_2", "EndpointId", "/nbd/0");
	expect_error(root, "MountPoints.Slot_2.EndpointId", "Slot_0");
}

/* The reference's file loads as it is, and means the same slots. */
static void test_reference_config(void)
{
	struct vm_config cfg;
	char err[512];
	json_t *root;

	g_assert_cmpint(parse(reference, &cfg, err, sizeof err), ==, 0);
	g_assert_cmpuint(cfg.n_slots, ==, 4);
	g_assert_true(cfg.has_reference_retry_keys);
	for (unsigned i = 0; i < 4; i++) {
		const struct vm_slot_config *s = &cfg.slots[i];
		g_autofree char *dev = g_strdup_printf("/dev/nbd%u", i);

		g_assert_cmpstr(s->nbd_device, ==, dev); /* one spelling */
		g_assert_cmpint(s->mode, ==, i < 2 ? VM_MODE_PROXY : VM_MODE_LEGACY);
		g_assert_cmpuint(s->timeout, ==, i < 2 ? 30 : 90);
		g_assert_false(vm_slot_endpoint_misleads(s));
	}
	/* the extra keys are integers there; anything else is a typo's sign */
	root = json_loads(reference, 0, NULL);
	json_object_set_new(root, "RetryCount", json_string("3"));
	expect_error(root, "RetryCount", "integer");
	root = json_loads(reference, 0, NULL);
	json_object_set_new(root, "RetryInterval", json_integer(-1));
	expect_error(root, "RetryInterval", "range");
	/* other unknown keys stay errors, at the top and in a slot */
	root = json_loads(reference, 0, NULL);
	json_object_set_new(root, "RetryCounts", json_integer(3));
	expect_error(root, "RetryCounts", "unknown key");
	root = json_loads(reference, 0, NULL);
	json_object_set_new(slot(root, "Slot_0"), "RetryCount", json_integer(3));
	expect_error(root, "MountPoints.Slot_0.RetryCount", "unknown key");
}

static void test_json_syntax(void)
{
	struct vm_config cfg;
	char err[512];
	GRegex *re = g_regex_new("^test\\.json:3:[0-9]+: ", 0, 0, NULL);

	g_assert_cmpint(parse("{\n  \"InactivityTimeout\": 1800,\n  \"MountPoints\": {,\n}\n", &cfg,
			      err, sizeof err), ==, -EINVAL);
	if (!g_regex_match(re, err, 0, NULL))
		g_error("no file:line:col in \"%s\"", err);
	g_regex_unref(re);
	g_assert_cmpint(parse("", &cfg, err, sizeof err), ==, -EINVAL);
	g_assert_true(g_str_has_prefix(err, "test.json:"));
	/* a NUL inside the text */
	g_assert_cmpint(vm_config_parse("{}\0{}", 5, "test.json", &cfg, err, sizeof err), ==, -EINVAL);
	g_assert_true(g_str_has_prefix(err, "test.json:"));
}

static void test_duplicate_json_key(void)
{
	static const char text[] =
		"{ \"InactivityTimeout\": 1, \"MountPoints\": {}, \"InactivityTimeout\": 2 }";
	struct vm_config cfg;
	char err[512];

	g_assert_cmpint(parse(text, &cfg, err, sizeof err), ==, -EINVAL);
	g_assert_true(g_str_has_prefix(err, "test.json:1:"));
	g_assert_nonnull(strstr(err, "InactivityTimeout"));
	g_assert_nonnull(strstr(err, "duplicate"));
}

static json_t *udcs(const char *first, ...)
{
	json_t *a = json_array();
	va_list ap;

	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *))
		json_array_append_new(a, json_string(s));
	va_end(ap);
	return a;
}

static void test_allowed_udcs(void)
{
	struct vm_config cfg;
	json_t *root, *many;

	root = doc();
	json_object_set_new(root, "AllowedUDCs", udcs("1e6a0000.usb-vhub:p3", "1e6a0000.usb-vhub:p4",
						       NULL));
	expect_ok(root, &cfg);
	g_assert_cmpuint(cfg.n_udcs, ==, 2);
	g_assert_cmpstr(cfg.udcs[0], ==, "1e6a0000.usb-vhub:p3");
	g_assert_cmpstr(cfg.udcs[1], ==, "1e6a0000.usb-vhub:p4");
	g_assert_true(vm_config_udc_allowed(&cfg, "1e6a0000.usb-vhub:p4"));
	g_assert_false(vm_config_udc_allowed(&cfg, "1e6a0000.usb-vhub:p1"));
	g_assert_false(vm_config_udc_allowed(&cfg, "1e6a0000.usb-vhub:p"));

	root = doc();
	json_object_set_new(root, "AllowedUDCs", json_string("p1"));
	expect_error(root, "AllowedUDCs", "array");
	root = doc();
	json_object_set_new(root, "AllowedUDCs", json_array());
	expect_error(root, "AllowedUDCs", NULL);
	root = doc();
	many = json_array();
	for (int i = 0; i <= VM_MAX_UDCS; i++)
		json_array_append_new(many, json_sprintf("udc%d", i));
	json_object_set_new(root, "AllowedUDCs", many);
	expect_error(root, "AllowedUDCs", NULL);
	root = doc();
	json_object_set_new(root, "AllowedUDCs", udcs("ok", "../x", NULL));
	expect_error(root, "AllowedUDCs[1]", "UDC name");
	root = doc();
	json_object_set_new(root, "AllowedUDCs", udcs(".hidden", NULL));
	expect_error(root, "AllowedUDCs[0]", "UDC name");
	root = doc();
	json_object_set_new(root, "AllowedUDCs", udcs("", NULL));
	expect_error(root, "AllowedUDCs[0]", "UDC name");
	root = doc();
	json_object_set_new(root, "AllowedUDCs", json_pack("[s, i]", "ok", 1));
	expect_error(root, "AllowedUDCs[1]", "string");
}

static void test_inactivity_override(void)
{
	struct vm_config cfg;
	json_t *root;

	root = doc();
	json_object_set_new(slot(root, "Slot_2"), "InactivityTimeout", json_integer(0));
	json_object_set_new(slot(root, "Slot_3"), "InactivityTimeout", json_integer(60));
	expect_ok(root, &cfg);
	g_assert_cmpuint(cfg.inactivity_timeout, ==, 1800);
	g_assert_cmpuint(cfg.slots[0].inactivity_timeout, ==, 1800);
	g_assert_cmpuint(cfg.slots[1].inactivity_timeout, ==, 1800);
	g_assert_cmpuint(cfg.slots[2].inactivity_timeout, ==, 0);
	g_assert_cmpuint(cfg.slots[3].inactivity_timeout, ==, 60);

	/* the global value applies wherever it stands in the file */
	json_t *d = doc();
	root = json_pack("{s:O, s:i}", "MountPoints", json_object_get(d, "MountPoints"),
			 "InactivityTimeout", 5);
	json_decref(d);
	expect_ok(root, &cfg);
	g_assert_cmpuint(cfg.slots[0].inactivity_timeout, ==, 5);
}

static void test_media(void)
{
	static const struct {
		const char *text;
		enum vm_media_policy policy;
	} ok[] = {
		{ "auto", VM_MEDIA_POLICY_AUTO },
		{ "cdrom", VM_MEDIA_POLICY_CDROM },
		{ "disk", VM_MEDIA_POLICY_DISK },
	};
	struct vm_config cfg;
	json_t *root;

	for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
		root = doc_with("Slot_1", "Media", ok[i].text);
		expect_ok(root, &cfg);
		g_assert_cmpint(cfg.slots[1].media, ==, ok[i].policy);
		g_assert_cmpint(cfg.slots[0].media, ==, VM_MEDIA_POLICY_AUTO);
	}
	root = doc_with("Slot_1", "Media", "iso");
	expect_error(root, "MountPoints.Slot_1.Media", "cdrom");
	root = doc_with("Slot_1", "Media", "CDROM");
	expect_error(root, "MountPoints.Slot_1.Media", NULL);
	root = doc_with("Slot_1", "Media", "a much longer string");
	expect_error(root, "MountPoints.Slot_1.Media", NULL);
	root = doc();
	json_object_set_new(slot(root, "Slot_1"), "Media", json_integer(1));
	expect_error(root, "MountPoints.Slot_1.Media", "string");
}

static void test_string_nul(void)
{
	struct vm_config cfg;
	json_t *root;

	char err[512];
	char *text;

	/* jansson refuses \u0000 itself (no JSON_ALLOW_NUL): a syntax error */
	root = doc();
	json_object_set_new(slot(root, "Slot_0"), "NBDDevice", json_stringn("/dev/nbd0\0x", 11));
	text = dump(root);
	g_assert_cmpint(parse(text, &cfg, err, sizeof err), ==, -EINVAL);
	g_assert_true(g_str_has_prefix(err, "test.json:7:"));
	free(text);
	root = doc();
	json_object_set_new(slot(root, "Slot_0"), "NBDDevice",
			    json_string("/dev/nbd0000000000000000000000000000000"));
	expect_error(root, "MountPoints.Slot_0.NBDDevice", "longer");
}

static void test_load(void)
{
	g_autofree char *dir = g_dir_make_tmp("test-config-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "config.json", NULL);
	g_autofree char *big = g_strnfill(64 * 1024 + 1, ' ');
	struct vm_config cfg;
	char err[512];

	g_assert_true(g_file_set_contents(path, shipped, -1, NULL));
	g_assert_cmpint(vm_config_load(path, &cfg, err, sizeof err), ==, 0);
	g_assert_cmpuint(cfg.n_slots, ==, 4);

	/* errors name the file as it was given */
	g_assert_true(g_file_set_contents(path, "{ \"InactivityTimeout\": 1 }", -1, NULL));
	g_assert_cmpint(vm_config_load(path, &cfg, err, sizeof err), ==, -EINVAL);
	g_assert_true(g_str_has_prefix(err, path));
	g_assert_nonnull(strstr(err, ": MountPoints: missing"));

	g_assert_true(g_file_set_contents(path, big, -1, NULL));
	g_assert_cmpint(vm_config_load(path, &cfg, err, sizeof err), <, 0);
	g_assert_true(g_str_has_prefix(err, path));

	g_assert_cmpint(vm_config_load(dir, &cfg, err, sizeof err), <, 0);
	g_assert_true(g_str_has_prefix(err, dir));

	g_unlink(path);
	g_assert_cmpint(vm_config_load(path, &cfg, err, sizeof err), ==, -ENOENT);
	g_assert_true(g_str_has_prefix(err, path));
	g_rmdir(dir);
}

/* No file of ours but the reference's: that one.  Both: ours.  Neither: ours
 * (its absence is the error to report). */
static void test_default_path(void)
{
	g_autofree char *etc = g_dir_make_tmp("test-config-etc-XXXXXX", NULL);
	g_autofree char *dir = g_build_filename(etc, "virtual-media", NULL);
	g_autofree char *ours = g_build_filename(dir, "config.json", NULL);
	g_autofree char *theirs = g_build_filename(etc, "virtual-media.json", NULL);
	struct vm_config cfg;
	char err[512];
	char *p;

	p = vm_config_default_path(etc);
	g_assert_cmpstr(p, ==, ours);
	free(p);

	g_assert_true(g_file_set_contents(theirs, reference, -1, NULL));
	p = vm_config_default_path(etc);
	g_assert_cmpstr(p, ==, theirs);
	g_assert_cmpint(vm_config_load(p, &cfg, err, sizeof err), ==, 0);
	g_assert_cmpstr(cfg.slots[0].nbd_device, ==, "/dev/nbd0");
	free(p);

	g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
	g_assert_true(g_file_set_contents(ours, shipped, -1, NULL));
	p = vm_config_default_path(etc);
	g_assert_cmpstr(p, ==, ours);
	free(p);

	/* a dangling link is a missing file; a link loop is not (ELOOP: reported) */
	g_unlink(ours);
	g_assert_cmpint(symlink("nowhere.json", ours), ==, 0);
	p = vm_config_default_path(etc);
	g_assert_cmpstr(p, ==, theirs);
	free(p);
	g_unlink(ours);
	g_assert_cmpint(symlink(ours, ours), ==, 0);
	p = vm_config_default_path(etc);
	g_assert_cmpstr(p, ==, ours);
	free(p);

	g_unlink(ours);
	g_rmdir(dir);
	g_unlink(theirs);
	g_rmdir(etc);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/config/shipped", test_shipped);
	g_test_add_func("/config/missing", test_missing);
	g_test_add_func("/config/wrong-type", test_wrong_type);
	g_test_add_func("/config/unknown-key", test_unknown_key);
	g_test_add_func("/config/duplicates", test_duplicates);
	g_test_add_func("/config/ranges", test_ranges);
	g_test_add_func("/config/slot-name", test_slot_name);
	g_test_add_func("/config/nbd-device", test_nbd_device);
	g_test_add_func("/config/unix-socket", test_unix_socket);
	g_test_add_func("/config/json-syntax", test_json_syntax);
	g_test_add_func("/config/duplicate-json-key", test_duplicate_json_key);
	g_test_add_func("/config/allowed-udcs", test_allowed_udcs);
	g_test_add_func("/config/inactivity-override", test_inactivity_override);
	g_test_add_func("/config/media", test_media);
	g_test_add_func("/config/string-nul", test_string_nul);
	g_test_add_func("/config/load", test_load);
	g_test_add_func("/config/endpoint-per-mode", test_endpoint_per_mode);
	g_test_add_func("/config/reference", test_reference_config);
	g_test_add_func("/config/default-path", test_default_path);
	return g_test_run();
}
