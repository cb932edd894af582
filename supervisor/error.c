/* SPDX-License-Identifier: Apache-2.0 */
#include "supervisor/error.h"

#include <errno.h>

/* sd-bus (bmcweb, busctl, every sdbusplus client) turns an error name into an
 * errno only for the org.freedesktop.DBus.Error names it maps and for
 * "System.Error.<ERRNO>"; any other name arrives as EIO.  The System.Error
 * names carry the errno exactly (EPERM stays EPERM, where AccessDenied would
 * arrive as EACCES); org.freedesktop.DBus.Error.InvalidArgs is GIO's own for
 * malformed calls and cannot be registered twice. */
static const GDBusErrorEntry entries[] = {
	{ VM_ERROR_FAILED, "System.Error.EIO" },
	{ VM_ERROR_NOT_PERMITTED, "System.Error.EPERM" },
	{ VM_ERROR_BUSY, "System.Error.EBUSY" },
	{ VM_ERROR_INVALID_ARGUMENT, "System.Error.EINVAL" },
};
G_STATIC_ASSERT(G_N_ELEMENTS(entries) == VM_ERROR_N_ERRORS);

GQuark vm_error_quark(void)
{
	static gsize quark;

	g_dbus_error_register_error_domain("vm-error-quark", &quark, entries, G_N_ELEMENTS(entries));
	return (GQuark)quark;
}

VmError vm_error_from_errno(int e)
{
	switch (e) {
	case EPERM: return VM_ERROR_NOT_PERMITTED;
	case EBUSY: return VM_ERROR_BUSY;
	case EINVAL: return VM_ERROR_INVALID_ARGUMENT;
	default: return VM_ERROR_FAILED;
	}
}
