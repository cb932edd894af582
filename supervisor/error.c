/* SPDX-License-Identifier: Apache-2.0 */
#include "supervisor/error.h"

#include <errno.h>

static const GDBusErrorEntry entries[] = {
	{ VM_ERROR_FAILED, "xyz.openbmc_project.VirtualMedia.Error.Failed" },
	{ VM_ERROR_NOT_PERMITTED, "xyz.openbmc_project.VirtualMedia.Error.NotPermitted" },
	{ VM_ERROR_BUSY, "xyz.openbmc_project.VirtualMedia.Error.Busy" },
	{ VM_ERROR_INVALID_ARGUMENT, "xyz.openbmc_project.VirtualMedia.Error.InvalidArgument" },
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
