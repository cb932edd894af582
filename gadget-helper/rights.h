/* SPDX-License-Identifier: Apache-2.0 */
/* The gadget-helper's own rights, dropped before it reads a message. */
#pragma once

/* Drops every capability (effective, permitted, inheritable, ambient and, when
 * allowed, the bounding set) and sets no_new_privs.  What stays is the
 * effective uid 0 of the setuid bit: configfs and /dev/nbdN belong to root, so
 * the owner's permission bits are all the helper needs — it cannot override
 * another owner's permissions, mount, load modules or trace anyone.
 * Returns 0, or a negative errno if the capabilities are not all gone. */
int gh_drop_capabilities(void);
