/* SPDX-License-Identifier: Apache-2.0 */
/* Legacy image URLs: what is accepted and what is refused. */
#include <gio/gio.h>

#include "common/image_url.h"

static void ok(const char *url, VmUrlScheme scheme, const char *host, const char *path)
{
	g_autoptr(GError) error = NULL;
	VmImageUrl u;

	g_test_message("%s", url);
	vm_image_url_parse(url, &u, &error);
	g_assert_no_error(error);
	g_assert_cmpint(u.scheme, ==, scheme);
	g_assert_cmpstr(u.host, ==, host);
	g_assert_cmpstr(u.path, ==, path);
	vm_image_url_clear(&u);
}

static void bad(const char *url)
{
	g_autoptr(GError) error = NULL;
	VmImageUrl u;

	g_test_message("%s", url);
	g_assert_false(vm_image_url_parse(url, &u, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

static void test_accepted(void)
{
	ok("https://images.example/os/installer.iso", VM_URL_HTTPS, "images.example", "/os/installer.iso");
	ok("https://127.0.0.1:8443/a%20b.iso?token=x", VM_URL_HTTPS, "127.0.0.1", "/a b.iso");
	ok("HTTPS://h/x.img", VM_URL_HTTPS, "h", "/x.img");
	ok("http://h/x.iso", VM_URL_HTTP, "h", "/x.iso");
	ok("smb://fs.example/share/dir/x.iso", VM_URL_SMB, "fs.example", "/share/dir/x.iso");
	ok("https://[::1]/x.iso", VM_URL_HTTPS, "::1", "/x.iso");
	ok("nfs://fs.example/export/dir/x.iso", VM_URL_NFS, "fs.example", "/export/dir/x.iso");
	ok("NFS://10.0.0.1:2049/x.iso", VM_URL_NFS, "10.0.0.1", "/x.iso");
}

static void test_refused(void)
{
	g_autofree char *huge = g_strnfill(3000, 'a');
	g_autofree char *long_url = g_strconcat("https://h/", huge, NULL);

	bad("");
	bad("installer.iso");
	bad("ftp://h/x.iso");
	bad("file:///etc/shadow");
	bad("nfs://h/dir/");
	bad("nfs://h/a/../x.iso");
	bad("nfs://h/export/x.iso?y=1");
	bad("nfs://h/export/x.iso#f");
	bad("nfs://u@h/export/x.iso");
	bad("https://user:pw@h/x.iso");
	bad("https:///x.iso");
	bad("https://h/");
	bad("https://h");
	bad("https://h/dir/");
	bad("https://h/a/../x.iso");
	bad("https://h/a/%2e%2e/x.iso");
	bad("https://h/a%2fb.iso");
	bad("https://h/x.iso\r\nHost: evil");
	bad("https://h/x .iso");
	bad("https://h/x%0a.iso");
	bad("smb://h/x.iso");
	bad("smb://h/share/x.iso?y=1");
	bad("https://h:99999/x.iso");
	bad("https://h/\xff.iso");
	bad(long_url);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/image-url/accepted", test_accepted);
	g_test_add_func("/image-url/refused", test_refused);
	return g_test_run();
}
