/* SPDX-License-Identifier: Apache-2.0 */
/* The errors the service answers D-Bus calls with. */
#pragma once

#include <gio/gio.h>

#define VM_ERROR (vm_error_quark())

typedef enum {
	VM_ERROR_FAILED,           /* ...Error.Failed */
	VM_ERROR_NOT_PERMITTED,    /* ...Error.NotPermitted: EPERM, the state forbids it */
	VM_ERROR_BUSY,             /* ...Error.Busy: EBUSY, an operation is under way */
	VM_ERROR_INVALID_ARGUMENT, /* ...Error.InvalidArgument: EINVAL */
	VM_ERROR_N_ERRORS,
} VmError;

GQuark vm_error_quark(void);

/* The VmError for an errno, for calls refused at once. */
VmError vm_error_from_errno(int e);
