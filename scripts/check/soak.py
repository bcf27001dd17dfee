#!/usr/bin/env python3
"""Traffic for scripts/check/soak: see that script's header. Usage: soak.py HOST PORT SERVER_PID CORPUS MINUTES"""
import gzip
import http.client
import json
import os
import random
import resource
import socket
import sys
import threading
import time

host, port, pid, corpus, minutes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
IDLE_CONNECTIONS = 1000
texts = [json.loads(line)["text"] for line in open(corpus, encoding="utf-8") if line.strip()]
short = [" ".join(text.split()[:10]) for text in texts]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * IDLE_CONNECTIONS)), hard))

stop = threading.Event()
lock = threading.Lock()
counts = {"passed": 0, "failed": 0}
failures = []
health_ms = []


def record(ok, what):
    with lock:
        counts["passed" if ok else "failed"] += 1
        if not ok and len(failures) < 20:
            failures.append(what)


def unit_vectors(vectors, count, width):
    return (len(vectors) == count and all(len(v) == width for v in vectors)
            and all(abs(sum(x * x for x in v) - 1) < 1e-3 for v in vectors))


def request(connection, method, path, body=None, headers=None):
    connection.request(method, path, body, headers or {})
    response = connection.getresponse()
    data = response.read()
    if response.getheader("content-encoding") == "gzip":
        data = gzip.decompress(data)
    return response.status, data


def embed_client(seed, long_texts, openai_route):
    rng = random.Random(seed)
    connection = http.client.HTTPConnection(host, port, timeout=300)
    while not stop.is_set():
        count = rng.randint(1, 8 if long_texts else 32)
        inputs = [rng.choice(texts if long_texts else short) for _ in range(count)]
        headers = {"Content-Type": "application/json"}
        if rng.random() < 0.3:
            headers["Accept-Encoding"] = "gzip"
        try:
            if openai_route:
                status, data = request(connection, "POST", "/v1/embeddings",
                                       json.dumps({"model": "m", "input": inputs}), headers)
                ok = status == 200 and unit_vectors([d["embedding"] for d in json.loads(data)["data"]], count, 768)
            else:
                status, data = request(connection, "POST", "/embed", json.dumps({"inputs": inputs}), headers)
                ok = status == 200 and unit_vectors(json.loads(data), count, 768)
            record(ok, f"embed {status} {data[:120]!r}")
        except Exception as error:  # a broken or doubled response shows up here
            record(False, f"embed exception {error!r}")
            connection.close()
            connection = http.client.HTTPConnection(host, port, timeout=300)


def tokenize_client(seed):
    rng = random.Random(seed)
    connection = http.client.HTTPConnection(host, port, timeout=300)
    while not stop.is_set():
        text = rng.choice(texts)
        try:
            status, data = request(connection, "POST", "/tokenize", json.dumps({"inputs": [text]}),
                                   {"Content-Type": "application/json", "Accept-Encoding": "gzip"})
            tokens = json.loads(data)[0] if status == 200 else []
            record(status == 200 and tokens[0]["special"] and len(tokens) > 2, f"tokenize {status}")
        except Exception as error:
            record(False, f"tokenize exception {error!r}")
            connection = http.client.HTTPConnection(host, port, timeout=300)
        time.sleep(0.2)


def raw_exchange(payload, wait_reply=True):
    """Sends bytes on a fresh connection; returns everything the server sent before closing (or b"")."""
    sock = socket.create_connection((host, port), timeout=30)
    try:
        sock.sendall(payload)
        if not wait_reply:
            return b""
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        sock.close()


def one_error_response(reply, payload):
    """Exactly one 4xx/505 response, framed by its Content-Length; bytes that never end a request line (a TLS
    hello on the plain port) may instead be closed without a word, as an incomplete request."""
    if reply == b"":
        return b"\n" not in payload
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = lines[0].split(b" ")
    length = [int(line.split(b":", 1)[1]) for line in lines[1:] if line.lower().startswith(b"content-length:")]
    return (len(status) > 1 and (status[1].startswith(b"4") or status[1] == b"505")
            and length == [len(body)])


def rude_client(seed):
    """Disconnects mid-request (mid-body, or right after a full request) and sends garbage, which must get one 4xx."""
    rng = random.Random(seed)
    garbage = [b"GARBAGE\r\n\r\n", b"POST /embed HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
               b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
               b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64), b"POST /embed HTTP/9.9\r\n\r\n"]
    while not stop.is_set():
        kind = rng.randrange(3)
        try:
            if kind == 0:
                body = json.dumps({"inputs": [rng.choice(texts)] * 8}).encode()
                raw_exchange(b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(body) + body[: len(body) // 2], wait_reply=False)
                record(True, "")
            elif kind == 1:
                body = json.dumps({"inputs": [rng.choice(texts)] * 8}).encode()
                raw_exchange(b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(body) + body, wait_reply=False)
                record(True, "")
            else:
                payload = rng.choice(garbage)
                reply = raw_exchange(payload)
                record(one_error_response(reply, payload), f"garbage {payload[:20]!r} got {reply[:80]!r}")
        except Exception as error:
            record(False, f"rude exception {error!r}")
        time.sleep(0.05)


def idle_connections():
    """Keeps IDLE_CONNECTIONS keep-alive connections open, each after one answered request; reopens closed ones."""
    sockets = []
    while not stop.is_set():
        while len(sockets) < IDLE_CONNECTIONS and not stop.is_set():
            try:
                sock = socket.create_connection((host, port), timeout=30)
                sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
                reply = sock.recv(4096)
                record(reply.startswith(b"HTTP/1.1 200"), f"idle ping {reply[:60]!r}")
                sockets.append(sock)
            except OSError as error:
                record(False, f"idle connect {error!r}")
                time.sleep(1)
        # Drop the ones the server closed (its idle time-out) so they are opened again.
        alive = []
        for sock in sockets:
            sock.setblocking(False)
            try:
                closed = sock.recv(1) == b""
            except BlockingIOError:
                closed = False
            except OSError:
                closed = True
            sock.setblocking(True)
            (sock.close() if closed else alive.append(sock))
        sockets = alive
        stop.wait(5)
    for sock in sockets:
        sock.close()


def prober():
    connection = http.client.HTTPConnection(host, port, timeout=30)
    while not stop.is_set():
        start = time.monotonic()
        try:
            status, _ = request(connection, "GET", "/health")
            elapsed = (time.monotonic() - start) * 1000
            health_ms.append(elapsed)
            record(status == 200, f"health {status}")
        except Exception as error:
            record(False, f"health exception {error!r}")
            connection = http.client.HTTPConnection(host, port, timeout=30)
        stop.wait(1)


def sample():
    with open(f"/proc/{pid}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


baseline_fds = sample()[1]
threads = [threading.Thread(target=embed_client, args=(1, False, False)),
           threading.Thread(target=embed_client, args=(2, False, True)),
           threading.Thread(target=embed_client, args=(3, True, False)),
           threading.Thread(target=embed_client, args=(4, True, True)),
           threading.Thread(target=tokenize_client, args=(5,)),
           threading.Thread(target=rude_client, args=(6,)),
           threading.Thread(target=idle_connections), threading.Thread(target=prober)]
for thread in threads:
    thread.start()
start = time.monotonic()
duration = minutes * 60
samples = []
print(f"{'time s':>7} {'RSS MB':>8} {'fds':>6} {'passed':>8} {'failed':>7}", flush=True)
while time.monotonic() - start < duration:
    time.sleep(min(10, max(0.1, duration - (time.monotonic() - start))))
    rss, fds = sample()
    samples.append((time.monotonic() - start, rss, fds))
    print(f"{samples[-1][0]:>7.0f} {rss:>8.1f} {fds:>6} {counts['passed']:>8} {counts['failed']:>7}", flush=True)
stop.set()
for thread in threads:
    thread.join()
time.sleep(2)
final_rss, final_fds = sample()
warm = [s for s in samples if s[0] >= duration / 10] or samples
rss_after_warmup, rss_peak = warm[0][1], max(s[1] for s in samples)
growth = (final_rss - rss_after_warmup) / rss_after_warmup * 100
ordered = sorted(health_ms)
print(f"RSS after warm-up {rss_after_warmup:.0f} MB, at the end {final_rss:.0f} MB ({growth:+.1f}%), peak {rss_peak:.0f} MB")
print(f"fds: {baseline_fds} before, {max(s[2] for s in samples)} at most, {final_fds} after the clients left")
if ordered:
    print(f"/health: p50 {ordered[len(ordered) // 2]:.1f} ms, p99 {ordered[int(len(ordered) * 0.99)]:.1f} ms, "
          f"max {ordered[-1]:.1f} ms over {len(ordered)} probes")
for failure in failures:
    print("failure:", failure)
# A run of a few minutes is all warm-up: its largest batch, which sizes the activation buffers, may come late.
if growth >= 5 and minutes >= 10:
    record(False, "RSS grew 5% or more after warm-up")
if final_fds > baseline_fds:
    record(False, f"fds did not return to baseline ({final_fds} > {baseline_fds})")
print(f"{counts['passed']} passed, {counts['failed']} failed")
sys.exit(0 if counts["failed"] == 0 else 1)
