/* SPDX-License-Identifier: Apache-2.0 */
#include "common/paths.h"

#include <glib.h>
#include <unistd.h>

char *vm_find_program(const char *name)
{
	g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
	g_autofree char *dir = self ? g_path_get_dirname(self) : NULL;
	char *path;

	if (dir) {
		path = g_build_filename(dir, name, NULL);
		if (access(path, X_OK) == 0)
			return path;
		g_free(path);
	}
	return g_build_filename(LIBEXECDIR, name, NULL);
}
