/* SPDX-License-Identifier: Apache-2.0 */
/* The errors the service answers D-Bus calls with. */
#pragma once

#include <gio/gio.h>

#define VM_ERROR (vm_error_quark())

typedef enum {
	VM_ERROR_FAILED,           /* System.Error.EIO */
	VM_ERROR_NOT_PERMITTED,    /* System.Error.EPERM: the state forbids it */
	VM_ERROR_BUSY,             /* System.Error.EBUSY: an operation is under way */
	VM_ERROR_INVALID_ARGUMENT, /* System.Error.EINVAL: malformed arguments */
	VM_ERROR_N_ERRORS,
} VmError;

GQuark vm_error_quark(void);

/* The VmError for an errno, for calls refused at once. */
VmError vm_error_from_errno(int e);
