/* SPDX-License-Identifier: Apache-2.0 */
/* The credential pipe's format: "user\0password\0", "\0\0" for none, nothing else. */
#include <errno.h>
#include <glib.h>
#include <string.h>
#include <unistd.h>

#include "worker/credentials.h"

#define PARSE(lit, c) vm_credentials_parse(lit, sizeof(lit) - 1, c)

static void test_parse(void)
{
	struct vm_credentials c;
	char big[600];

	g_assert_cmpint(PARSE("alice\0s3cr,et\0", &c), ==, 0);
	g_assert_true(c.present);
	g_assert_cmpstr(c.user, ==, "alice");
	g_assert_cmpstr(c.password, ==, "s3cr,et");
	g_assert_cmpint(PARSE("bob\0\0", &c), ==, 0); /* an empty password is a password */
	g_assert_true(c.present);
	g_assert_cmpint(PARSE("\0\0", &c), ==, 0);
	g_assert_false(c.present);

	g_assert_cmpint(PARSE("", &c), ==, -EINVAL);
	g_assert_cmpint(PARSE("alice", &c), ==, -EINVAL);
	g_assert_cmpint(PARSE("alice\0", &c), ==, -EINVAL);
	g_assert_cmpint(PARSE("alice\0pw", &c), ==, -EINVAL);
	g_assert_cmpint(PARSE("alice\0pw\0x", &c), ==, -EINVAL);
	g_assert_cmpint(PARSE("alice\0pw\0\0", &c), ==, -EINVAL);
	g_assert_cmpint(PARSE("\0pw\0", &c), ==, -EINVAL);
	g_assert_false(c.present);

	memset(big, 'a', sizeof big);
	big[513] = '\0';
	big[515] = '\0';
	g_assert_cmpint(vm_credentials_parse(big, 516, &c), ==, -EINVAL); /* user > 512 */
	big[512] = '\0';
	g_assert_cmpint(vm_credentials_parse(big, 513 + 3, &c), ==, -EINVAL); /* extra field */
}

static void test_wipe(void)
{
	struct vm_credentials c;

	g_assert_cmpint(PARSE("u\0secret\0", &c), ==, 0);
	vm_credentials_wipe(&c);
	for (size_t i = 0; i < sizeof c; i++)
		g_assert_cmpint(((unsigned char *)&c)[i], ==, 0);
}

struct result {
	gboolean done;
	GError *error;
};

static void on_read(GObject *src, GAsyncResult *res, gpointer data)
{
	struct result *r = data;
	struct vm_credentials *c = vm_credentials_read_finish(res, &r->error);

	r->done = TRUE;
	if (c) {
		g_assert_cmpstr(c->user, ==, "carol");
		g_assert_cmpstr(c->password, ==, "pw");
		vm_credentials_free(c);
	}
}

static GError *read_pipe(const char *data, size_t n, gboolean close_writer)
{
	struct result r = { FALSE, NULL };
	int p[2];

	g_assert_no_errno(pipe(p));
	g_assert_cmpint(write(p[1], data, n), ==, (ssize_t)n);
	if (close_writer)
		close(p[1]);
	vm_credentials_read_async(p[0], 300, NULL, on_read, &r);
	while (!r.done)
		g_main_context_iteration(NULL, TRUE);
	if (!close_writer)
		close(p[1]);
	return r.error;
}

static void test_read(void)
{
	GError *e;
	char big[2000] = { 0 };

	g_assert_null(read_pipe("carol\0pw\0", 9, TRUE));
	e = read_pipe("carol\0pw", 8, TRUE);
	g_assert_error(e, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
	g_clear_error(&e);
	e = read_pipe(big, sizeof big, TRUE); /* bounded: more than two fields can hold */
	g_assert_error(e, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
	g_clear_error(&e);
	e = read_pipe("carol\0pw\0", 9, FALSE); /* a writer that never closes */
	g_assert_error(e, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
	g_clear_error(&e);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/credentials/parse", test_parse);
	g_test_add_func("/credentials/wipe", test_wipe);
	g_test_add_func("/credentials/read", test_read);
	return g_test_run();
}
