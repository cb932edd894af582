/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the parser of the credentials pipe (worker/credentials.c,
 * vm_credentials_parse(): what the worker read from bmcweb's pipe).
 *
 * Invariants, from credentials.h:
 *  - accepted iff the input is exactly "user\0password\0" with no other NUL,
 *    each field at most VM_CRED_FIELD_MAX bytes and no password without a user;
 *  - then user and password are exactly those fields ("\0\0": none present);
 *  - a refusal leaves nothing behind (all zero). */
#include <errno.h>
#include <string.h>

#include "test/fuzz/fuzz.h"
#include "worker/credentials.h"

static bool well_formed(const uint8_t *d, size_t n, size_t *ulen, size_t *plen)
{
	const uint8_t *nul1 = n ? memchr(d, '\0', n) : NULL, *nul2;

	if (!nul1)
		return false;
	*ulen = (size_t)(nul1 - d);
	nul2 = memchr(nul1 + 1, '\0', n - *ulen - 1);
	if (!nul2 || nul2 != d + n - 1)
		return false;
	*plen = (size_t)(nul2 - nul1 - 1);
	return *ulen <= VM_CRED_FIELD_MAX && *plen <= VM_CRED_FIELD_MAX && (*ulen || !*plen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct vm_credentials zero;
	struct vm_credentials c;
	size_t ulen = 0, plen = 0;
	bool ok = well_formed(data, size, &ulen, &plen);
	int r = vm_credentials_parse((const char *)data, size, &c);

	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	FUZZ_ASSERT(ok == (r == 0));
	if (r < 0) {
		FUZZ_ASSERT(memcmp(&c, &zero, sizeof c) == 0);
		return 0;
	}
	FUZZ_ASSERT(c.present == (ulen > 0));
	FUZZ_ASSERT(strlen(c.user) == ulen && memcmp(c.user, data, ulen) == 0);
	FUZZ_ASSERT(strlen(c.password) == plen && memcmp(c.password, data + ulen + 1, plen) == 0);
	vm_credentials_wipe(&c);
	FUZZ_ASSERT(memcmp(&c, &zero, sizeof c) == 0);
	return 0;
}
