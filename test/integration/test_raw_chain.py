# SPDX-License-Identifier: Apache-2.0
"""Issue 2: the raw chain, assembled by hand without the service (test/smoke/raw-chain.sh):
nbdkit -> nbd-client -> /dev/nbdN -> configfs gadget -> the host's CD-ROM, checksums equal.
It is the baseline the service is measured against."""
import os
import subprocess

import vmtest


def test_raw_chain():
    env = dict(os.environ, SMOKE_NBD="/dev/nbd15", SMOKE_UDC="dummy_udc.7", SMOKE_GADGET="rawchain")
    r = subprocess.run([os.path.join(vmtest.REPO, "test/smoke/raw-chain.sh")], env=env,
                       capture_output=True, text=True, timeout=300)
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "FAIL" not in r.stdout
    assert "PASS" in r.stdout
