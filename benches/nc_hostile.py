"""The measuring half of benches/nc_hostile.sh; prints its figures.

Usage: nc_hostile.py NC_URL KEYS_DIR NC_PID NC_WSDL
"""

import os
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "py"))

from zeep import Client  # noqa: E402

from zeep_signed_call import SignAndVerifyWith  # noqa: E402

CALLS = 100
STALLED = 200
FLOOD = 64
FLOOD_BYTES = 15 << 20


def memory_mb(pid):
    """Resident and peak resident size of `pid`, in MB."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            fields[name] = value
    kib = lambda name: int(fields[name].split()[0])  # noqa: E731
    return kib("VmRSS") / 1024, kib("VmHWM") / 1024


def latencies(service):
    """Seconds each of CALLS signed calls took, each with its own Body."""
    seen = []
    for call in range(CALLS):
        started = time.perf_counter()
        service.ncDescribeResource(correlationId=f"bench-{time.time_ns()}-{call}", userId="bench")
        seen.append(time.perf_counter() - started)
    return seen


def report(label, seen):
    seen = sorted(seen)
    p50 = statistics.median(seen) * 1000
    p99 = seen[int(len(seen) * 0.99) - 1] * 1000
    print(f"{label:<36} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")
    return p99


def stall(host, port, path):
    """A connection that sends a POST's headers and the start of a body, then nothing."""
    s = socket.create_connection((host, port))
    s.sendall(
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: text/xml\r\n"
        f"Content-Length: 100000\r\n\r\n<soapenv:Envelope".encode()
    )
    return s


def flood_one(host, port, path, body, chunked):
    s = socket.create_connection((host, port))
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
    try:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/xml\r\n{framing}\r\n\r\n".encode())
        view = memoryview(body)
        for start in range(0, len(body), 1 << 16):
            chunk = view[start : start + (1 << 16)]
            if chunked:
                s.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            else:
                s.sendall(chunk)
        if chunked:
            s.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # refused and closed before the whole body was sent
    finally:
        s.close()


def main():
    url, keys, pid, wsdl = sys.argv[1:5]
    pid = int(pid)
    host, _, rest = url.removeprefix("http://").partition(":")
    port, _, path = rest.partition("/")
    port, path = int(port), "/" + path
    key = lambda name: os.path.join(keys, name)  # noqa: E731
    client = Client(wsdl, wsse=SignAndVerifyWith(key("cluster-pk.pem"), key("cluster-cert.pem"), key("node-cert.pem")))
    service = client.create_service("{http://eucalyptus.ucsb.edu/}EucalyptusNCSoapBinding", url)
    service.ncDescribeResource(correlationId="warm-up", userId="bench")

    print("finding 1: a signed request while others stall their bodies")
    quiet = report("signed, no other clients", latencies(service))
    stalled = [stall(host, port, path) for _ in range(STALLED)]
    loaded = report(f"signed, {STALLED} stalled connections", latencies(service))
    print(f"{'ratio p99 loaded / quiet':<36} {loaded / quiet:.2f} (target: within 2)")
    for s in stalled:
        s.close()

    print("finding 4: a flood of unsigned 15 MB messages")
    time.sleep(1)
    idle, _ = memory_mb(pid)
    with open(f"/proc/{pid}/clear_refs", "w") as clear:
        clear.write("5")
    body = b"<soapenv:Envelope>" + b" " * (FLOOD_BYTES - 18)
    senders = [
        threading.Thread(target=flood_one, args=(host, port, path, body, i % 2 == 1)) for i in range(FLOOD)
    ]
    started = time.perf_counter()
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    elapsed = time.perf_counter() - started
    _, peak = memory_mb(pid)
    time.sleep(2)
    after, _ = memory_mb(pid)
    print(f"{'resident size idle':<36} {idle:7.1f} MB")
    print(f"{'resident size peak during flood':<36} {peak:7.1f} MB (target: under 100)")
    print(f"{'resident size 2 s after':<36} {after:7.1f} MB (target: within 20 % of idle)")
    print(f"{f'flood of {FLOOD} refused in':<36} {elapsed:7.2f} s")
    service.ncDescribeResource(correlationId="after-the-flood", userId="bench")
    print("signed request after the flood: answered")


if __name__ == "__main__":
    main()
