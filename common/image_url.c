/* SPDX-License-Identifier: Apache-2.0 */
/* Checking a Legacy image URL: see image_url.h. */
#include "common/image_url.h"

#include <gio/gio.h>
#include <string.h>

#include "common/msg.h"

#define FAIL(...) (g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, __VA_ARGS__), FALSE)

static gboolean has_control_chars(const char *s, gboolean space_too)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || (space_too && *s == ' '))
			return TRUE;
	return FALSE;
}

gboolean vm_image_url_parse(const char *url, VmImageUrl *out, GError **error)
{
	g_autoptr(GUri) uri = NULL;
	g_autoptr(GError) e = NULL;
	g_auto(GStrv) segments = NULL;
	const char *scheme, *path;

	memset(out, 0, sizeof *out);
	if (strlen(url) >= VM_MSG_MAX_STRING)
		return FAIL("the URL is longer than %d bytes", VM_MSG_MAX_STRING - 1);
	if (!g_utf8_validate(url, -1, NULL) || has_control_chars(url, TRUE))
		return FAIL("the URL contains control characters or spaces");
	/* GUri would quietly remove dot segments: refuse them instead */
	if (strstr(url, "/../") || strstr(url, "/./") || g_str_has_suffix(url, "/..") ||
	    g_str_has_suffix(url, "/.") || strstr(url, "%2e") || strstr(url, "%2E"))
		return FAIL("the URL's path has a \".\" or \"..\" segment, or an escaped \".\"");
	uri = g_uri_parse(url, G_URI_FLAGS_ENCODED_PATH, &e);
	if (!uri)
		return FAIL("the URL is malformed: %s", e->message);

	scheme = g_uri_get_scheme(uri);
	if (g_ascii_strcasecmp(scheme, "https") == 0)
		out->scheme = VM_URL_HTTPS;
	else if (g_ascii_strcasecmp(scheme, "http") == 0)
		out->scheme = VM_URL_HTTP;
	else if (g_ascii_strcasecmp(scheme, "smb") == 0)
		out->scheme = VM_URL_SMB;
	else if (g_ascii_strcasecmp(scheme, "nfs") == 0)
		out->scheme = VM_URL_NFS;
	else
		return FAIL("unsupported scheme \"%s\": use https://, smb:// or nfs://", scheme);

	if (g_uri_get_userinfo(uri))
		return FAIL("credentials do not belong in the URL: pass them through the pipe");
	if (!g_uri_get_host(uri) || !*g_uri_get_host(uri))
		return FAIL("the URL has no host");
	path = g_uri_get_path(uri);
	if (!path || path[0] != '/' || path[1] == '\0' || g_str_has_suffix(path, "/"))
		return FAIL("the URL does not name an image file");
	/* a decoded "..", or a "/" or NUL hidden in an escape, would climb out of the share */
	segments = g_strsplit(path + 1, "/", -1);
	for (char **seg = segments; *seg; seg++) {
		g_autofree char *dec = g_uri_unescape_string(*seg, "/");
		if (!dec || !*dec || strcmp(dec, ".") == 0 || strcmp(dec, "..") == 0 ||
		    has_control_chars(dec, FALSE))
			return FAIL("the URL's path has an empty, \".\", \"..\" or escaped \"/\" segment");
	}
	if (vm_url_scheme_is_share(out->scheme) && (g_uri_get_query(uri) || g_uri_get_fragment(uri)))
		return FAIL("a file share's URL has no query or fragment");
	if (out->scheme == VM_URL_SMB) {
		if (g_strv_length(segments) < 2)
			return FAIL("an smb:// URL names a share and a file: smb://host/share/image.iso");
	}
	out->host = g_strdup(g_uri_get_host(uri));
	out->port = g_uri_get_port(uri);
	out->path = g_uri_unescape_string(path, NULL);
	return TRUE;
}

gboolean vm_url_scheme_is_share(VmUrlScheme scheme)
{
	return scheme == VM_URL_SMB || scheme == VM_URL_NFS;
}

void vm_image_url_clear(VmImageUrl *u)
{
	g_clear_pointer(&u->host, g_free);
	g_clear_pointer(&u->path, g_free);
}
