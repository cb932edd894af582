/* SPDX-License-Identifier: Apache-2.0 */
#include "gadget-helper/log.h"

#include <stdarg.h>
#include <stdio.h>

void gh_log(const char *slot, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	/* format first, so that the line reaches stderr in one write */
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (slot)
		fprintf(stderr, "gadget-helper[%s]: %s\n", slot, line);
	else
		fprintf(stderr, "gadget-helper: %s\n", line);
}
