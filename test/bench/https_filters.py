#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Which nbdkit filters to put in front of the curl plugin: sequential read
throughput of an image over HTTPS with an emulated wide-area link (tc netem on
loopback), for each candidate stack.  Runs inside the virtual BMC:

    test/vm/run -- test/bench/https_filters.py [RTT_MS] [MIB]

It reads /dev/nbdN directly (the USB gadget adds the same cost to every
variant), 3 runs each, and prints the median and the spread."""
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../integration"))
import servers  # noqa: E402
import vmtest  # noqa: E402

RTT_MS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
MIB = int(sys.argv[2]) if len(sys.argv) > 2 else 32
DEV = "/dev/nbd12"
SOCK = "/run/bench-nbdkit.sock"

RETRY = ["--filter=retry-request"]
RETRY_ARGS = ["retry-request-retries=5", "retry-request-delay=2", "retry-request-open=false"]
VARIANTS = {
    "curl (no filters: the reference's)": ([], []),
    "retry-request (ours)": (RETRY, RETRY_ARGS),
    "readahead + retry-request": (["--filter=readahead"] + RETRY, RETRY_ARGS),
    "readahead + cache + retry-request": (["--filter=readahead", "--filter=cache"] + RETRY,
                                          RETRY_ARGS + ["cache-on-read=true", "cache-max-size=64M"]),
}


def read_once(url, ca_file, filters, args):
    if os.path.exists(SOCK):
        os.unlink(SOCK)
    kit = subprocess.Popen(["nbdkit", "--foreground", "--readonly", "--exit-with-parent",
                            f"--unix={SOCK}", *filters, "curl", f"url={url}", f"cainfo={ca_file}",
                            "protocols=https", "ssl-version=tlsv1.2", *args],
                           stderr=subprocess.DEVNULL)
    vmtest.wait_for("nbdkit", lambda: os.path.exists(SOCK), 20)
    client = subprocess.Popen(["nbd-client", "-b", "512", "-t", "30", "-n", "-L", "-R", "-u", SOCK,
                               DEV], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        vmtest.wait_for(DEV, lambda: open(f"/sys/block/{DEV[5:]}/size").read().strip() != "0", 30)
        subprocess.run(["blockdev", "--flushbufs", DEV], check=True)
        t0 = time.monotonic()
        subprocess.run(["dd", f"if={DEV}", "of=/dev/null", "bs=1M", "iflag=direct",
                        f"count={MIB}"], check=True, capture_output=True)
        return MIB / (time.monotonic() - t0)
    finally:
        subprocess.run(["nbd-client", "-d", DEV], capture_output=True)
        client.wait(30)
        kit.terminate()
        kit.wait(30)


def main():
    work = tempfile.mkdtemp(prefix="bench-")
    images = os.path.join(work, "images")
    os.makedirs(images)
    vmtest.make_disk(os.path.join(images, "big.img"), MIB)
    ca = servers.TestCA(work)
    with servers.Nginx(work, ca, images):
        url = "https://127.0.0.1:8443/open/big.img"
        subprocess.run(["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay",
                        f"{RTT_MS // 2}ms"], check=True)
        try:
            print(f"sequential read of {MIB} MiB over https, {RTT_MS} ms RTT (median of 3, min-max)")
            for name, (filters, args) in VARIANTS.items():
                rates = [read_once(url, ca.ca_file, filters, args) for _ in range(3)]
                print(f"  {name:38s} {statistics.median(rates):6.2f} MiB/s"
                      f"  ({min(rates):.2f}-{max(rates):.2f})", flush=True)
        finally:
            subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], check=False)


if __name__ == "__main__":
    main()
