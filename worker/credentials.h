/* SPDX-License-Identifier: Apache-2.0 */
/* The credentials of a Legacy mount: "user\0password\0" read from a pipe
 * (bmcweb's), "\0\0" for none.  Kept in memory only, and wiped after use. */
#pragma once

#include <gio/gio.h>
#include <stdbool.h>
#include <stddef.h>

#define VM_CRED_FIELD_MAX 512
#define VM_CRED_PIPE_MAX (2 * (VM_CRED_FIELD_MAX + 1))

struct vm_credentials {
	bool present;
	char user[VM_CRED_FIELD_MAX + 1];
	char password[VM_CRED_FIELD_MAX + 1];
};

/* 0, or -EINVAL for anything but the two NUL-terminated fields. */
int vm_credentials_parse(const char *buf, size_t n, struct vm_credentials *out);
void vm_credentials_wipe(struct vm_credentials *c);

/* Read the pipe to EOF (at most VM_CRED_PIPE_MAX bytes, within timeout_ms) in
 * a thread; takes fd.  The result is a struct vm_credentials the caller wipes
 * and frees with vm_credentials_free. */
void vm_credentials_read_async(int fd, int timeout_ms, GCancellable *cancellable,
			       GAsyncReadyCallback callback, gpointer user_data);
struct vm_credentials *vm_credentials_read_finish(GAsyncResult *res, GError **error);
void vm_credentials_free(struct vm_credentials *c);
