/* SPDX-License-Identifier: Apache-2.0 */
/* The gadget-helper: its allow-list and state table (request.c), its configfs
 * code on a fake tree (gadget.c, udc.c), and the program itself end to end. */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/msg.h"
#include "gadget-helper/gadget.h"
#include "gadget-helper/request.h"
#include "gadget-helper/queue.h"
#include "gadget-helper/udc.h"

#define SLOT(name, n, mode) \
	"\"" name "\": { \"EndpointId\": \"/nbd/" #n "\", \"Mode\": " #mode ", " \
	"\"NBDDevice\": \"/dev/nbd" #n "\", \"UnixSocket\": \"/run/vm/nbd" #n ".sock\", " \
	"\"Timeout\": 30, \"BlockSize\": 512 }"

static const char config_text[] =
	"{ \"InactivityTimeout\": 1800, \"MountPoints\": { " SLOT("Slot_0", 0, 0) ", "
	SLOT("Slot_1", 1, 0) ", " SLOT("Slot_2", 2, 1) " } }";

typedef struct {
	struct vm_config cfg;
	struct gh_state st;
	struct vm_msg m;
	struct gh_request req;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
	char err[256];

	g_assert_cmpint(vm_config_parse(config_text, strlen(config_text), "test.json", &f->cfg, err,
					sizeof err), ==, 0);
	gh_state_init(&f->st);
	vm_msg_init(&f->m, VM_MSG_NONE);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
	vm_msg_clear(&f->m);
}

static struct vm_msg *hello(Fixture *f, uint32_t version)
{
	vm_msg_init(&f->m, VM_MSG_HELLO);
	vm_msg_put_u32(&f->m, version);
	return &f->m;
}

static struct vm_msg *slot_req(Fixture *f, uint32_t type, const char *slot)
{
	vm_msg_init(&f->m, type);
	vm_msg_put_str(&f->m, slot);
	return &f->m;
}

static struct vm_msg *create(Fixture *f, const char *slot, const char *dev, uint32_t ro,
			     uint32_t media)
{
	slot_req(f, VM_MSG_GADGET_CREATE, slot);
	vm_msg_put_str(&f->m, dev);
	vm_msg_put_u32(&f->m, ro);
	vm_msg_put_u32(&f->m, media);
	return &f->m;
}

static int check(Fixture *f)
{
	int r = gh_request_check(&f->cfg, &f->st, &f->m, &f->req);

	/* every refusal says why in the log */
	g_assert_true((r == 0) == (f->req.refusal == NULL));
	return r;
}

/* check, and on success record the outcome as the helper would */
static int step(Fixture *f, int result)
{
	int r = check(f);
	if (r == 0)
		gh_state_update(&f->st, &f->req, result);
	return r;
}

static void to_idle(Fixture *f)
{
	hello(f, VM_MSG_VERSION);
	g_assert_cmpint(step(f, 0), ==, 0);
	g_assert_cmpint(f->st.phase, ==, GH_PHASE_IDLE);
}

static void to_exposed(Fixture *f, const char *slot)
{
	g_assert_cmpint(f->st.phase, ==, GH_PHASE_IDLE);
	create(f, slot, vm_config_find_slot(&f->cfg, slot)->nbd_device, 0, VM_MEDIA_DISK);
	g_assert_cmpint(step(f, 0), ==, 0);
	g_assert_cmpint(f->st.phase, ==, GH_PHASE_EXPOSED);
}

static void test_sequence(Fixture *f, gconstpointer data)
{
	g_assert_null(f->st.slot);
	to_idle(f);

	slot_req(f, VM_MSG_GADGET_CLEANUP, "Slot_1");
	g_assert_cmpint(step(f, 0), ==, 0);
	g_assert_cmpint(f->st.phase, ==, GH_PHASE_IDLE);
	g_assert_nonnull(f->st.slot);
	g_assert_cmpstr(f->st.slot->name, ==, "Slot_1");
	/* idempotent: again */
	g_assert_cmpint(step(f, 0), ==, 0);

	create(f, "Slot_1", "/dev/nbd1", 0, VM_MEDIA_DISK);
	g_assert_cmpint(step(f, 0), ==, 0);
	g_assert_cmpint(f->req.type, ==, VM_MSG_GADGET_CREATE);
	g_assert_true(f->req.slot == vm_config_find_slot(&f->cfg, "Slot_1"));
	g_assert_false(f->req.read_only);
	g_assert_cmpint(f->req.media, ==, VM_MEDIA_DISK);
	g_assert_cmpint(f->st.phase, ==, GH_PHASE_EXPOSED);

	slot_req(f, VM_MSG_GADGET_REMOVE, "Slot_1");
	g_assert_cmpint(step(f, 0), ==, 0);
	g_assert_cmpint(f->st.phase, ==, GH_PHASE_IDLE);

	create(f, "Slot_1", "/dev/nbd1", 1, VM_MEDIA_CDROM);
	g_assert_cmpint(step(f, 0), ==, 0);
	g_assert_true(f->req.read_only);
	g_assert_cmpint(f->req.media, ==, VM_MEDIA_CDROM);
	slot_req(f, VM_MSG_GADGET_REMOVE, "Slot_1");
	g_assert_cmpint(step(f, 0), ==, 0);
	g_assert_cmpint(f->st.phase, ==, GH_PHASE_IDLE);
}

/* A CREATE that failed was rolled back: IDLE.  A REMOVE that failed may be retried. */
static void test_failures_keep_state(Fixture *f, gconstpointer data)
{
	to_idle(f);
	create(f, "Slot_0", "/dev/nbd0", 0, VM_MEDIA_DISK);
	g_assert_cmpint(step(f, -EBUSY), ==, 0);
	g_assert_cmpint(f->st.phase, ==, GH_PHASE_IDLE);
	/* bound all the same */
	g_assert_cmpstr(f->st.slot->name, ==, "Slot_0");
	g_assert_cmpint(step(f, 0), ==, 0);
	slot_req(f, VM_MSG_GADGET_REMOVE, "Slot_0");
	g_assert_cmpint(step(f, -EBUSY), ==, 0);
	g_assert_cmpint(f->st.phase, ==, GH_PHASE_EXPOSED);
	g_assert_cmpint(step(f, 0), ==, 0);
	g_assert_cmpint(f->st.phase, ==, GH_PHASE_IDLE);
}

static void test_hello(Fixture *f, gconstpointer data)
{
	/* nothing before HELLO */
	slot_req(f, VM_MSG_GADGET_CLEANUP, "Slot_0");
	g_assert_cmpint(check(f), ==, -EPERM);
	create(f, "Slot_0", "/dev/nbd0", 0, VM_MEDIA_DISK);
	g_assert_cmpint(check(f), ==, -EPERM);
	hello(f, VM_MSG_VERSION + 1);
	g_assert_cmpint(check(f), ==, -EPROTONOSUPPORT);
	hello(f, VM_MSG_VERSION);
	vm_msg_put_u32(&f->m, 0);
	g_assert_cmpint(check(f), ==, -EBADMSG);
	vm_msg_init(&f->m, VM_MSG_HELLO);
	g_assert_cmpint(check(f), ==, -EBADMSG);
	to_idle(f);
	/* at most once */
	hello(f, VM_MSG_VERSION);
	g_assert_cmpint(check(f), ==, -EPERM);
}

static void test_unknown_slot(Fixture *f, gconstpointer data)
{
	to_idle(f);
	slot_req(f, VM_MSG_GADGET_CLEANUP, "Slot_9");
	g_assert_cmpint(check(f), ==, -ENOENT);
	slot_req(f, VM_MSG_GADGET_CLEANUP, "");
	g_assert_cmpint(check(f), ==, -ENOENT);
	slot_req(f, VM_MSG_GADGET_CLEANUP, "../Slot_0");
	g_assert_cmpint(check(f), ==, -ENOENT);
	slot_req(f, VM_MSG_GADGET_CLEANUP, "slot_0");
	g_assert_cmpint(check(f), ==, -ENOENT);
	create(f, "Slot_9", "/dev/nbd0", 0, VM_MEDIA_DISK);
	g_assert_cmpint(check(f), ==, -ENOENT);
	g_assert_null(f->st.slot);
}

static void test_other_device(Fixture *f, gconstpointer data)
{
	static const char *const bad[] = {
		"/dev/nbd1",          /* another slot's */
		"/dev/nbd3",          /* nobody's */
		"/etc/passwd",
		"/dev/nbd0/../sda",
		"/dev/nbd1 ",
		"/dev/nbd0 ",
		" /dev/nbd0",
		"/dev/nbd00",
		"/dev//nbd0",
		"/dev/nbd",
		"/dev/sda",
		"",
	};

	to_idle(f);
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		create(f, "Slot_0", bad[i], 0, VM_MEDIA_DISK);
		g_assert_cmpint(check(f), ==, -EPERM);
	}
	create(f, "Slot_0", "/dev/nbd0", 0, VM_MEDIA_DISK);
	g_assert_cmpint(check(f), ==, 0);
	/* what the helper uses is the config's string */
	g_assert_cmpstr(f->req.slot->nbd_device, ==, "/dev/nbd0");
}

static void test_second_slot(Fixture *f, gconstpointer data)
{
	to_idle(f);
	slot_req(f, VM_MSG_GADGET_CLEANUP, "Slot_0");
	g_assert_cmpint(step(f, 0), ==, 0);

	slot_req(f, VM_MSG_GADGET_CLEANUP, "Slot_1");
	g_assert_cmpint(check(f), ==, -EPERM);
	create(f, "Slot_1", "/dev/nbd1", 0, VM_MEDIA_DISK);
	g_assert_cmpint(check(f), ==, -EPERM);
	create(f, "Slot_9", "/dev/nbd0", 0, VM_MEDIA_DISK);
	g_assert_cmpint(check(f), ==, -EPERM);

	create(f, "Slot_0", "/dev/nbd0", 0, VM_MEDIA_DISK);
	g_assert_cmpint(step(f, 0), ==, 0);
	slot_req(f, VM_MSG_GADGET_REMOVE, "Slot_1");
	g_assert_cmpint(check(f), ==, -EPERM);
	slot_req(f, VM_MSG_GADGET_REMOVE, "Slot_0");
	g_assert_cmpint(check(f), ==, 0);
}

static void test_bad_values(Fixture *f, gconstpointer data)
{
	to_idle(f);
	create(f, "Slot_0", "/dev/nbd0", 2, VM_MEDIA_DISK);
	g_assert_cmpint(check(f), ==, -EINVAL);
	create(f, "Slot_0", "/dev/nbd0", UINT32_MAX, VM_MEDIA_DISK);
	g_assert_cmpint(check(f), ==, -EINVAL);
	create(f, "Slot_0", "/dev/nbd0", 0, VM_MEDIA_MAX);
	g_assert_cmpint(check(f), ==, -EINVAL);
	create(f, "Slot_0", "/dev/nbd0", 0, UINT32_MAX);
	g_assert_cmpint(check(f), ==, -EINVAL);
	g_assert_cmpint(f->st.phase, ==, GH_PHASE_IDLE);
}

/* raw payload bytes, for what the writers refuse to produce */
static void put_raw(struct vm_msg *m, const void *p, size_t n)
{
	memcpy(m->payload + m->len, p, n);
	m->len += (uint32_t)n;
}

static void raw_str(struct vm_msg *m, uint32_t len, const void *bytes, size_t n)
{
	vm_msg_put_u32(m, len);
	put_raw(m, bytes, n);
}

static void test_malformed(Fixture *f, gconstpointer data)
{
	to_idle(f);

	/* truncated: each prefix of a valid CREATE */
	create(f, "Slot_0", "/dev/nbd0", 0, VM_MEDIA_DISK);
	for (uint32_t len = 0; len < f->m.len; len++) {
		struct vm_msg t = f->m;
		t.len = len;
		g_assert_cmpint(gh_request_check(&f->cfg, &f->st, &t, &f->req), ==, -EBADMSG);
	}
	/* trailing bytes */
	create(f, "Slot_0", "/dev/nbd0", 0, VM_MEDIA_DISK);
	vm_msg_put_u32(&f->m, 0);
	g_assert_cmpint(check(f), ==, -EBADMSG);
	slot_req(f, VM_MSG_GADGET_CLEANUP, "Slot_0");
	put_raw(&f->m, "", 1);
	g_assert_cmpint(check(f), ==, -EBADMSG);
	/* empty */
	vm_msg_init(&f->m, VM_MSG_GADGET_CLEANUP);
	g_assert_cmpint(check(f), ==, -EBADMSG);

	/* strings: no NUL, embedded NUL, zero length, length past the end */
	vm_msg_init(&f->m, VM_MSG_GADGET_CLEANUP);
	raw_str(&f->m, 6, "Slot_0", 6);
	g_assert_cmpint(check(f), ==, -EBADMSG);
	vm_msg_init(&f->m, VM_MSG_GADGET_CLEANUP);
	raw_str(&f->m, 9, "Slot_0\0xx", 9);
	g_assert_cmpint(check(f), ==, -EBADMSG);
	vm_msg_init(&f->m, VM_MSG_GADGET_CLEANUP);
	raw_str(&f->m, 8, "Slot_0\0\0", 8);
	g_assert_cmpint(check(f), ==, -EBADMSG);
	vm_msg_init(&f->m, VM_MSG_GADGET_CLEANUP);
	raw_str(&f->m, 0, "", 0);
	g_assert_cmpint(check(f), ==, -EBADMSG);
	vm_msg_init(&f->m, VM_MSG_GADGET_CLEANUP);
	raw_str(&f->m, 100, "Slot_0", 7);
	g_assert_cmpint(check(f), ==, -EBADMSG);
	vm_msg_init(&f->m, VM_MSG_GADGET_CLEANUP);
	raw_str(&f->m, UINT32_MAX, "Slot_0", 7);
	g_assert_cmpint(check(f), ==, -EBADMSG);
	/* a device with an embedded NUL that would compare equal as a C string */
	slot_req(f, VM_MSG_GADGET_CREATE, "Slot_0");
	raw_str(&f->m, 13, "/dev/nbd0\0sda", 13);
	vm_msg_put_u32(&f->m, 0);
	vm_msg_put_u32(&f->m, 0);
	g_assert_cmpint(check(f), ==, -EBADMSG);

	/* garbage */
	for (unsigned seed = 0; seed < 200; seed++) {
		GRand *rand = g_rand_new_with_seed(seed);
		vm_msg_init(&f->m, seed % 2 ? VM_MSG_GADGET_CREATE : VM_MSG_GADGET_CLEANUP);
		f->m.len = g_rand_int_range(rand, 0, 64);
		for (uint32_t i = 0; i < f->m.len; i++)
			f->m.payload[i] = (uint8_t)g_rand_int(rand);
		g_assert_cmpint(check(f), !=, 0);
		g_rand_free(rand);
	}
	g_assert_cmpint(f->st.phase, ==, GH_PHASE_IDLE);
	g_assert_null(f->st.slot);
}

static void test_decode(Fixture *f, gconstpointer data)
{
	uint8_t buf[sizeof(struct vm_msg_hdr) + VM_MSG_MAX_PAYLOAD + 1] = { 0 };
	struct vm_msg_hdr hdr = { .type = VM_MSG_GADGET_CLEANUP, .len = VM_MSG_MAX_PAYLOAD + 1 };

	/* oversized */
	memcpy(buf, &hdr, sizeof hdr);
	g_assert_cmpint(vm_msg_decode(buf, sizeof buf, &f->m), ==, -EBADMSG);
	/* length mismatch both ways, short header */
	hdr.len = 10;
	memcpy(buf, &hdr, sizeof hdr);
	g_assert_cmpint(vm_msg_decode(buf, sizeof hdr + 9, &f->m), ==, -EBADMSG);
	g_assert_cmpint(vm_msg_decode(buf, sizeof hdr + 11, &f->m), ==, -EBADMSG);
	g_assert_cmpint(vm_msg_decode(buf, sizeof hdr - 1, &f->m), ==, -EBADMSG);
	/* a well-framed CLEANUP, decoded then checked */
	hdr.len = 4 + 7;
	memcpy(buf, &hdr, sizeof hdr);
	memcpy(buf + sizeof hdr, &(uint32_t){ 7 }, 4);
	memcpy(buf + sizeof hdr + 4, "Slot_2", 7);
	g_assert_cmpint(vm_msg_decode(buf, sizeof hdr + hdr.len, &f->m), ==, 0);
	to_idle(f);
	g_assert_cmpint(vm_msg_decode(buf, sizeof hdr + hdr.len, &f->m), ==, 0);
	g_assert_cmpint(check(f), ==, 0);
	g_assert_cmpstr(f->req.slot->name, ==, "Slot_2");
}

static void test_unknown_type(Fixture *f, gconstpointer data)
{
	static const uint32_t types[] = {
		VM_MSG_NONE, VM_MSG_MOUNT_PROXY, VM_MSG_UNMOUNT, VM_MSG_READY,
		VM_MSG_GADGET_RESULT, VM_MSG_GADGET_REMOVE + 1, 999, UINT32_MAX,
	};

	for (int phase = 0; phase < 2; phase++) {
		for (size_t i = 0; i < G_N_ELEMENTS(types); i++) {
			slot_req(f, types[i], "Slot_0");
			g_assert_cmpint(check(f), ==, -EBADMSG);
		}
		if (phase == 0)
			to_idle(f);
	}
}

static void test_fd_refused(Fixture *f, gconstpointer data)
{
	to_idle(f);
	slot_req(f, VM_MSG_GADGET_CLEANUP, "Slot_0");
	f->m.fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	g_assert_cmpint(f->m.fd, >=, 0);
	g_assert_cmpint(check(f), ==, -EBADMSG);
	/* the teardown closes it */
}

static void test_not_permitted(Fixture *f, gconstpointer data)
{
	to_idle(f);
	slot_req(f, VM_MSG_GADGET_REMOVE, "Slot_0");
	g_assert_cmpint(check(f), ==, -EPERM);

	to_exposed(f, "Slot_0");
	create(f, "Slot_0", "/dev/nbd0", 0, VM_MEDIA_DISK);
	g_assert_cmpint(check(f), ==, -EPERM);
	slot_req(f, VM_MSG_GADGET_CLEANUP, "Slot_0");
	g_assert_cmpint(check(f), ==, -EPERM);
	hello(f, VM_MSG_VERSION);
	g_assert_cmpint(check(f), ==, -EPERM);
	g_assert_cmpint(f->st.phase, ==, GH_PHASE_EXPOSED);
}

/* --- configfs code on a fake tree ------------------------------------------ */

typedef struct {
	char *dir;
	char *gadgets, *udcs;
	struct gh_sysfs fs;
	struct vm_config cfg;
} Tree;

static void tree_setup(Tree *t, gconstpointer data)
{
	char err[256];

	t->dir = g_dir_make_tmp("test-gadget-helper-XXXXXX", NULL);
	g_assert_nonnull(t->dir);
	t->gadgets = g_build_filename(t->dir, "usb_gadget", NULL);
	t->udcs = g_build_filename(t->dir, "udc", NULL);
	t->fs.gadget_root = t->gadgets;
	t->fs.udc_class = t->udcs;
	g_assert_cmpint(vm_config_parse(config_text, strlen(config_text), "test.json", &t->cfg, err,
					sizeof err), ==, 0);
}

static void tree_teardown(Tree *t, gconstpointer data)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", t->dir);
	g_assert_cmpint(system(cmd), ==, 0);
	g_free(t->gadgets);
	g_free(t->udcs);
	g_free(t->dir);
}

static void tree_file(Tree *t, const char *rel, const char *content)
{
	g_autofree char *path = g_build_filename(t->dir, rel, NULL);
	g_autofree char *dir = g_path_get_dirname(path);

	g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
	g_assert_true(g_file_set_contents(path, content, -1, NULL));
}

static char *tree_read(Tree *t, const char *rel)
{
	g_autofree char *path = g_build_filename(t->dir, rel, NULL);
	char *s = NULL;

	g_assert_true(g_file_get_contents(path, &s, NULL, NULL));
	return s;
}

static gboolean tree_exists(Tree *t, const char *rel)
{
	g_autofree char *path = g_build_filename(t->dir, rel, NULL);
	return g_file_test(path, G_FILE_TEST_EXISTS);
}

static void test_nbd_device_check(void)
{
	g_assert_cmpint(gh_nbd_device_check("/dev/null"), ==, -ENOTBLK);
	g_assert_cmpint(gh_nbd_device_check("/"), ==, -ENOTBLK);
	g_assert_cmpint(gh_nbd_device_check("/nonexistent/nbd0"), ==, -ENOENT);
}

static void test_remove_absent(Tree *t, gconstpointer data)
{
	/* no configfs at all, then an empty one */
	g_assert_cmpint(gh_gadget_remove(&t->fs, "Slot_0"), ==, 0);
	g_assert_cmpint(g_mkdir(t->gadgets, 0755), ==, 0);
	g_assert_cmpint(gh_gadget_remove(&t->fs, "Slot_0"), ==, 0);
}

static void test_remove_partial(Tree *t, gconstpointer data)
{
	/* a crash right after the mkdir of the function: what exists goes */
	g_autofree char *fn = g_build_filename(t->gadgets, "vmedia_Slot_0/functions/mass_storage.usb0",
					       NULL);
	g_autofree char *s = g_build_filename(t->gadgets, "vmedia_Slot_0/strings/0x409", NULL);

	g_assert_cmpint(g_mkdir_with_parents(fn, 0755), ==, 0);
	g_assert_cmpint(g_mkdir_with_parents(s, 0755), ==, 0);
	/* a plain directory does not make default groups vanish: emulate that */
	g_assert_cmpint(gh_gadget_remove(&t->fs, "Slot_0"), ==, -ENOTEMPTY);
	g_assert_false(tree_exists(t, "usb_gadget/vmedia_Slot_0/functions/mass_storage.usb0"));
	g_assert_false(tree_exists(t, "usb_gadget/vmedia_Slot_0/strings/0x409"));
}

static void test_create_no_configfs(Tree *t, gconstpointer data)
{
	char udc[VM_UDC_NAME_MAX + 1] = "x";

	g_assert_cmpint(gh_gadget_create(&t->fs, &t->cfg, "Slot_0", "/dev/nbd0", false,
					 VM_MEDIA_DISK, udc, sizeof udc), ==, -ENODEV);
	g_assert_cmpstr(udc, ==, "");
}

static void test_create_rolls_back(Tree *t, gconstpointer data)
{
	char udc[VM_UDC_NAME_MAX + 1];

	/* a plain directory has no idVendor attribute: the first write fails */
	g_assert_cmpint(g_mkdir(t->gadgets, 0755), ==, 0);
	g_assert_cmpint(gh_gadget_create(&t->fs, &t->cfg, "Slot_0", "/dev/nbd0", false,
					 VM_MEDIA_DISK, udc, sizeof udc), ==, -ENOENT);
	g_assert_false(tree_exists(t, "usb_gadget/vmedia_Slot_0"));
	g_assert_cmpstr(udc, ==, "");
}

static void test_create_existing_untouched(Tree *t, gconstpointer data)
{
	char udc[VM_UDC_NAME_MAX + 1];

	tree_file(t, "usb_gadget/vmedia_Slot_0/UDC", "busy.udc\n");
	g_assert_cmpint(gh_gadget_create(&t->fs, &t->cfg, "Slot_0", "/dev/nbd0", false,
					 VM_MEDIA_DISK, udc, sizeof udc), ==, -EEXIST);
	g_assert_true(tree_exists(t, "usb_gadget/vmedia_Slot_0/UDC"));
	g_autofree char *s = tree_read(t, "usb_gadget/vmedia_Slot_0/UDC");
	g_assert_cmpstr(s, ==, "busy.udc\n");
}

static int bind_ours(Tree *t, char *udc, size_t size)
{
	g_autofree char *ours = g_build_filename(t->gadgets, "vmedia_Slot_0", NULL);
	int fd = open(ours, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	g_assert_cmpint(fd, >=, 0);
	r = gh_udc_bind(&t->fs, &t->cfg, fd, udc, size);
	close(fd);
	return r;
}

static void test_udc_any(Tree *t, gconstpointer data)
{
	char udc[VM_UDC_NAME_MAX + 1];

	tree_file(t, "usb_gadget/vmedia_Slot_0/UDC", "");
	g_assert_cmpint(bind_ours(t, udc, sizeof udc), ==, -ENODEV); /* no UDC at all */

	tree_file(t, "udc/1e6a0000.usb-vhub:p10", "");
	tree_file(t, "udc/1e6a0000.usb-vhub:p2", "");
	tree_file(t, "udc/1e6a0000.usb-vhub:p1", "");
	tree_file(t, "udc/.hidden", "");
	/* the KVM's keyboard holds p1, another slot p2 */
	tree_file(t, "usb_gadget/hid/UDC", "1e6a0000.usb-vhub:p1\n");
	tree_file(t, "usb_gadget/vmedia_Slot_1/UDC", "1e6a0000.usb-vhub:p2\n");
	tree_file(t, "usb_gadget/broken/nothing", "");

	g_assert_cmpint(bind_ours(t, udc, sizeof udc), ==, 0);
	g_assert_cmpstr(udc, ==, "1e6a0000.usb-vhub:p10");
	g_autofree char *s = tree_read(t, "usb_gadget/vmedia_Slot_0/UDC");
	g_assert_cmpstr(s, ==, "1e6a0000.usb-vhub:p10");

	/* now ours holds p10 too: nothing is left */
	g_assert_cmpint(bind_ours(t, udc, sizeof udc), ==, -EBUSY);
}

static void test_udc_allowed(Tree *t, gconstpointer data)
{
	char udc[VM_UDC_NAME_MAX + 1];

	t->cfg.n_udcs = 3;
	strcpy(t->cfg.udcs[0], "missing.udc");
	strcpy(t->cfg.udcs[1], "b.udc");
	strcpy(t->cfg.udcs[2], "c.udc");
	tree_file(t, "usb_gadget/vmedia_Slot_0/UDC", "");
	g_assert_cmpint(bind_ours(t, udc, sizeof udc), ==, -ENODEV);

	tree_file(t, "udc/a.udc", "");
	tree_file(t, "udc/b.udc", "");
	tree_file(t, "udc/c.udc", "");
	tree_file(t, "usb_gadget/hid/UDC", "b.udc\n");
	/* a.udc is free but not allowed; b.udc is taken */
	g_assert_cmpint(bind_ours(t, udc, sizeof udc), ==, 0);
	g_assert_cmpstr(udc, ==, "c.udc");

	tree_file(t, "usb_gadget/vmedia_Slot_0/UDC", "");
	tree_file(t, "usb_gadget/hid/UDC", "c.udc\n");
	tree_file(t, "usb_gadget/vmedia_Slot_1/UDC", "b.udc\n");
	g_assert_cmpint(bind_ours(t, udc, sizeof udc), ==, -EBUSY);
}

static void test_udc_unbind(Tree *t, gconstpointer data)
{
	g_autofree char *ours = g_build_filename(t->gadgets, "vmedia_Slot_0", NULL);
	int fd;

	g_assert_cmpint(g_mkdir_with_parents(ours, 0755), ==, 0);
	fd = open(ours, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	g_assert_cmpint(gh_udc_unbind(fd), ==, 0); /* no UDC attribute */

	tree_file(t, "usb_gadget/vmedia_Slot_0/UDC", "\n");
	g_assert_cmpint(gh_udc_unbind(fd), ==, 0); /* not bound: not written */
	g_autofree char *s1 = tree_read(t, "usb_gadget/vmedia_Slot_0/UDC");
	g_assert_cmpstr(s1, ==, "\n");

	tree_file(t, "usb_gadget/vmedia_Slot_0/UDC", "");
	g_assert_cmpint(gh_udc_unbind(fd), ==, 0);
	g_autofree char *s2 = tree_read(t, "usb_gadget/vmedia_Slot_0/UDC");
	g_assert_cmpstr(s2, ==, "");

	tree_file(t, "usb_gadget/vmedia_Slot_0/UDC", "a.udc\n");
	g_assert_cmpint(gh_udc_unbind(fd), ==, 0);
	g_autofree char *s3 = tree_read(t, "usb_gadget/vmedia_Slot_0/UDC");
	g_assert_cmpint(s3[0], ==, '\n');
	close(fd);
}

/* --- the program, end to end (never reaching a real gadget) ---------------- */

/* A slot whose device does not exist, so that CREATE stops before configfs. */
static const char e2e_config[] =
	"{ \"InactivityTimeout\": 0, \"MountPoints\": { "
	"\"T_e2e\": { \"EndpointId\": \"/nbd/9\", \"Mode\": 0, \"NBDDevice\": \"/dev/nbd9999\", "
	"\"UnixSocket\": \"/run/vm/t.sock\", \"Timeout\": 30, \"BlockSize\": 512 } } }";

typedef struct {
	char *dir, *config, *program;
	GSubprocess *proc;
	int sock;
} Helper;

static void helper_setup(Helper *h, gconstpointer data)
{
	g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
	g_autofree char *bindir = g_path_get_dirname(self);

	/* build/test/ -> build/vmedia-gadget-helper (also under build/asan/) */
	h->program = g_build_filename(bindir, "..", "vmedia-gadget-helper", NULL);
	h->dir = g_dir_make_tmp("test-gadget-helper-XXXXXX", NULL);
	h->config = g_build_filename(h->dir, "config.json", NULL);
	g_assert_true(g_file_set_contents(h->config, e2e_config, -1, NULL));
	h->sock = -1;
}

static void helper_teardown(Helper *h, gconstpointer data)
{
	if (h->sock >= 0)
		close(h->sock);
	if (h->proc) {
		g_subprocess_force_exit(h->proc);
		g_subprocess_wait(h->proc, NULL, NULL);
		g_object_unref(h->proc);
	}
	g_unlink(h->config);
	g_rmdir(h->dir);
	g_free(h->config);
	g_free(h->dir);
	g_free(h->program);
}

/* The helper's command line; under test/run-unit's RUN_UNIT_WRAPPER (qemu-arm
 * for a cross-built helper: no binfmt_misc to run it directly) through that. */
static GPtrArray *helper_argv(Helper *h, const char *config)
{
	GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
	const char *wrapper = g_getenv("RUN_UNIT_WRAPPER");
	g_auto(GStrv) words = NULL;

	if (wrapper && *wrapper) {
		g_assert_true(g_shell_parse_argv(wrapper, NULL, &words, NULL));
		for (char **w = words; *w; w++)
			g_ptr_array_add(argv, g_strdup(*w));
	}
	g_ptr_array_add(argv, g_strdup(h->program));
	g_ptr_array_add(argv, g_strdup("--config"));
	g_ptr_array_add(argv, g_strdup(config ? config : h->config));
	g_ptr_array_add(argv, NULL);
	return argv;
}

static gboolean helper_start(Helper *h, const char *config, int type)
{
	g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) argv = helper_argv(h, config);
	struct timeval tv = { .tv_sec = 10 };
	int sv[2];

	if (!g_file_test(h->program, G_FILE_TEST_IS_EXECUTABLE)) {
		g_test_skip("vmedia-gadget-helper is not built");
		return FALSE;
	}
	g_assert_cmpint(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), ==, 0);
	g_assert_cmpint(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), ==, 0);
	g_subprocess_launcher_take_fd(l, sv[1], 3);
	h->proc = g_subprocess_launcher_spawnv(l, (const char *const *)argv->pdata, &error);
	g_assert_no_error(error);
	h->sock = sv[0];
	return TRUE;
}

static void send_msg(Helper *h, struct vm_msg *m)
{
	g_assert_cmpint(vm_msg_send(h->sock, m), ==, 0);
}

/* Expect a GADGET_RESULT with error and udc. */
static void expect_reply(Helper *h, int error, const char *udc)
{
	struct vm_msg r;
	struct vm_cursor c;

	g_assert_cmpint(vm_msg_recv(h->sock, &r), ==, 0);
	g_assert_cmpint(r.type, ==, VM_MSG_GADGET_RESULT);
	vm_cursor_init(&c, &r);
	g_assert_cmpint(vm_cursor_i32(&c), ==, error);
	g_assert_cmpstr(vm_cursor_str(&c), ==, udc);
	g_assert_true(vm_cursor_end(&c));
}

static void roundtrip(Helper *h, struct vm_msg *m, int error, const char *udc)
{
	send_msg(h, m);
	expect_reply(h, error, udc);
}

/* Close our end; expect the exit status and a line containing log on stderr. */
static void expect_exit(Helper *h, int status, const char *log)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *err = NULL;

	close(h->sock);
	h->sock = -1;
	g_assert_true(g_subprocess_communicate_utf8(h->proc, NULL, NULL, NULL, &err, &error));
	g_assert_no_error(error);
	if (g_test_verbose())
		g_printerr("%s", err);
	g_assert_true(g_subprocess_get_if_exited(h->proc));
	g_assert_cmpint(g_subprocess_get_exit_status(h->proc), ==, status);
	if (log)
		g_assert_nonnull(strstr(err, log));
}

static struct vm_msg *msg_hello(struct vm_msg *m, uint32_t version)
{
	vm_msg_init(m, VM_MSG_HELLO);
	vm_msg_put_u32(m, version);
	return m;
}

static struct vm_msg *msg_slot(struct vm_msg *m, uint32_t type, const char *slot)
{
	vm_msg_init(m, type);
	vm_msg_put_str(m, slot);
	return m;
}

static struct vm_msg *msg_create(struct vm_msg *m, const char *dev)
{
	msg_slot(m, VM_MSG_GADGET_CREATE, "T_e2e");
	vm_msg_put_str(m, dev);
	vm_msg_put_u32(m, 0);
	vm_msg_put_u32(m, VM_MEDIA_CDROM);
	return m;
}

static void test_e2e_session(Helper *h, gconstpointer data)
{
	struct vm_msg m;

	if (!helper_start(h, NULL, SOCK_SEQPACKET))
		return;
	roundtrip(h, msg_hello(&m, VM_MSG_VERSION), 0, "");
	roundtrip(h, msg_slot(&m, VM_MSG_GADGET_CLEANUP, "T_e2e"), 0, "");
	/* the device is the config's, checked by stat(): absent here */
	roundtrip(h, msg_create(&m, "/dev/nbd9999"), ENOENT, "");
	/* still serving, still IDLE */
	roundtrip(h, msg_slot(&m, VM_MSG_GADGET_CLEANUP, "T_e2e"), 0, "");
	expect_exit(h, 0, "gadget-helper[T_e2e]: ");
}

static void test_e2e_refusals(Helper *h, gconstpointer data)
{
	int pipefd[2];
	struct vm_msg m;
	uint8_t junk[3] = { 1, 2, 3 };
	int which = GPOINTER_TO_INT(data);

	if (!helper_start(h, NULL, SOCK_SEQPACKET))
		return;
	if (which != 0)
		roundtrip(h, msg_hello(&m, VM_MSG_VERSION), 0, "");
	switch (which) {
	case 0:
		roundtrip(h, msg_hello(&m, VM_MSG_VERSION + 1), EPROTONOSUPPORT, "");
		break;
	case 1:
		roundtrip(h, msg_create(&m, "/etc/passwd"), EPERM, "");
		break;
	case 2:
		roundtrip(h, msg_slot(&m, VM_MSG_GADGET_REMOVE, "T_e2e"), EPERM, "");
		break;
	case 3:
		roundtrip(h, msg_slot(&m, VM_MSG_GADGET_CLEANUP, "Slot_0"), ENOENT, "");
		break;
	case 4:
		g_assert_cmpint(pipe2(pipefd, O_CLOEXEC), ==, 0);
		msg_slot(&m, VM_MSG_GADGET_CLEANUP, "T_e2e");
		m.fd = pipefd[0];
		roundtrip(h, &m, EBADMSG, "");
		close(pipefd[0]);
		close(pipefd[1]);
		break;
	case 5:
		g_assert_cmpint(send(h->sock, junk, sizeof junk, 0), ==, sizeof junk);
		expect_reply(h, EBADMSG, "");
		break;
	case 6:
		roundtrip(h, msg_slot(&m, 4242, "T_e2e"), EBADMSG, "");
		break;
	}
	expect_exit(h, 1, "refused");
}

static void test_e2e_bad_start(Helper *h, gconstpointer data)
{
	g_autofree char *bad = g_build_filename(h->dir, "missing.json", NULL);

	if (!helper_start(h, bad, SOCK_SEQPACKET))
		return;
	expect_exit(h, 1, "missing.json");
	g_clear_object(&h->proc);
	close(h->sock);
	h->sock = -1;
	/* fd 3 must be a SOCK_SEQPACKET socket */
	if (!helper_start(h, NULL, SOCK_STREAM))
		return;
	expect_exit(h, 1, "SOCK_SEQPACKET");
}

/* The request size by mode, on a fake /sys/block (queue.h): Slot_0 is Proxy
 * (bmcweb's 128 KiB), Slot_2 Legacy (1 MiB). */
static void test_queue_limit(void)
{
	g_autofree char *root = g_dir_make_tmp("test-queue-XXXXXX", NULL);
	struct gh_sysfs fs = { .block_class = root };
	struct vm_config cfg;
	char err[256];

	g_assert_cmpint(vm_config_parse(config_text, strlen(config_text), "test.json", &cfg, err,
					sizeof err), ==, 0);
	for (int n = 0; n <= 2; n += 2) {
		g_autofree char *q = g_strdup_printf("%s/nbd%d/queue", root, n);
		g_autofree char *max = g_build_filename(q, "max_sectors_kb", NULL);
		g_autofree char *ra = g_build_filename(q, "read_ahead_kb", NULL);
		g_autofree char *got_max = NULL, *got_ra = NULL;
		const char *want = n == 0 ? "128" : "1024";

		g_assert_cmpint(g_mkdir_with_parents(q, 0755), ==, 0);
		/* empty: a regular file is not truncated by a write as sysfs is */
		g_assert_true(g_file_set_contents(max, "", -1, NULL));
		g_assert_true(g_file_set_contents(ra, "", -1, NULL));
		g_assert_cmpint(gh_queue_limit(&fs, &cfg.slots[n]), ==, 0);
		g_assert_true(g_file_get_contents(max, &got_max, NULL, NULL));
		g_assert_true(g_file_get_contents(ra, &got_ra, NULL, NULL));
		g_assert_cmpstr(got_max, ==, want);
		g_assert_cmpstr(got_ra, ==, want);
		g_unlink(max);
		g_unlink(ra);
		g_rmdir(q);
		*strrchr(q, '/') = '\0';
		g_rmdir(q);
	}
	/* no such device: an errno, nothing created (no O_CREAT) */
	g_assert_cmpint(gh_queue_limit(&fs, &cfg.slots[1]), ==, -ENOENT);
	g_assert_cmpint(g_rmdir(root), ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

#define F(path, fn) g_test_add("/gadget-helper/request/" path, Fixture, NULL, fixture_setup, fn, \
			       fixture_teardown)
	F("sequence", test_sequence);
	F("failures-keep-state", test_failures_keep_state);
	F("hello", test_hello);
	F("unknown-slot", test_unknown_slot);
	F("other-device", test_other_device);
	F("second-slot", test_second_slot);
	F("bad-values", test_bad_values);
	F("malformed", test_malformed);
	F("decode", test_decode);
	F("unknown-type", test_unknown_type);
	F("fd-refused", test_fd_refused);
	F("not-permitted", test_not_permitted);
#undef F
	g_test_add_func("/gadget-helper/gadget/nbd-device-check", test_nbd_device_check);
	g_test_add_func("/gadget-helper/queue-limit", test_queue_limit);
#define T(path, fn) g_test_add("/gadget-helper/gadget/" path, Tree, NULL, tree_setup, fn, tree_teardown)
	T("remove-absent", test_remove_absent);
	T("remove-partial", test_remove_partial);
	T("create-no-configfs", test_create_no_configfs);
	T("create-rolls-back", test_create_rolls_back);
	T("create-existing-untouched", test_create_existing_untouched);
	T("udc-any", test_udc_any);
	T("udc-allowed", test_udc_allowed);
	T("udc-unbind", test_udc_unbind);
#undef T
#define H(path, fn, data) g_test_add("/gadget-helper/program/" path, Helper, data, helper_setup, \
				     fn, helper_teardown)
	H("session", test_e2e_session, NULL);
	H("refuse/hello-version", test_e2e_refusals, GINT_TO_POINTER(0));
	H("refuse/other-device", test_e2e_refusals, GINT_TO_POINTER(1));
	H("refuse/remove-in-idle", test_e2e_refusals, GINT_TO_POINTER(2));
	H("refuse/unknown-slot", test_e2e_refusals, GINT_TO_POINTER(3));
	H("refuse/fd", test_e2e_refusals, GINT_TO_POINTER(4));
	H("refuse/garbage", test_e2e_refusals, GINT_TO_POINTER(5));
	H("refuse/unknown-type", test_e2e_refusals, GINT_TO_POINTER(6));
	H("bad-start", test_e2e_bad_start, NULL);
#undef H
	return g_test_run();
}
