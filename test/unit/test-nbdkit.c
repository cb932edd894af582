/* SPDX-License-Identifier: Apache-2.0 */
/* What nbdkit and curl say, mapped to errnos (the texts as seen from nbdkit 1.32). */
#include <errno.h>
#include <glib.h>

#include "worker/nbdkit.h"
#include "worker/smb_share.h"

static void test_curl_texts(void)
{
	static const struct { const char *text; int error; } cases[] = {
		{ "curl[1]: error: problem doing HEAD request to fetch size of URL [https://h/x.iso]: "
		  "HTTP response code said error: The requested URL returned error: 404", ENOENT },
		{ "The requested URL returned error: 401", EACCES },
		{ "The requested URL returned error: 403", EACCES },
		{ "Couldn't resolve host name: Could not resolve host: no-such-host.invalid", EHOSTUNREACH },
		{ "SSL certificate problem: unable to get local issuer certificate", EPROTO },
		{ "server certificate verification failed. CAfile: /x CRLfile: none", EPROTO },
		{ "Couldn't connect to server: Failed to connect to 127.0.0.1 port 1: Connection refused",
		  ECONNREFUSED },
		{ "Timeout was reached: Connection timed out after 30001 milliseconds", ETIMEDOUT },
		/* a server that stops answering during the TLS handshake */
		{ "problem doing HEAD request to fetch size of URL [https://h/x]: Timeout was reached: "
		  "SSL connection timeout", ETIMEDOUT },
		{ "error: server does not support 'range' (byte range) requests", EOPNOTSUPP },
		{ "/run/x.sock: Address already in use", EADDRINUSE },
		{ "something else entirely", 0 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_test_message("%s", cases[i].text);
		g_assert_cmpint(vm_errno_from_curl_text(cases[i].text), ==, cases[i].error);
	}
}

static void test_smb_option_escaping(void)
{
	g_autofree char *a = smb_escape_option("pw,with,commas");
	g_autofree char *b = smb_escape_option("plain");

	g_assert_cmpstr(a, ==, "pw,,with,,commas");
	g_assert_cmpstr(b, ==, "plain");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/nbdkit/curl-texts", test_curl_texts);
	g_test_add_func("/smb/option-escaping", test_smb_option_escaping);
	return g_test_run();
}
