#!/usr/bin/env python3
"""Load generator for scripts/bench/bench-server: C concurrent clients, each with one keep-alive connection, each
sending one short query at a time to POST /embed for a fixed time. Prints requests/s, tokens/s, p50/p99 latency and the
batch sizes the batcher formed (from /metrics deltas). With --latency: one client sends one text RUNS times (after 10
warm-up requests) and prints p50/p90/min of the round trip.

Usage: bench_server.py HOST PORT QUERIES_FILE SECONDS CLIENTS [CLIENTS ...]
       bench_server.py HOST PORT --latency TEXT RUNS"""
import http.client
import json
import re
import socket
import sys
import threading
import time


def latency(host, port, text, runs):
    """Round trips of one query on one keep-alive connection, over a raw socket: http.client's response parsing
    costs the Python client about 0.1 ms a request, which would count against the server.

    Also prints the trip: the median over the requests of the round trip less the server's own `x-inference-time`
    (a median: one scheduling hiccup of a few ms would move a mean by more than the trip). Both come from the same
    passes, so a shared VM whose speed drifts between the HTTP and the in-process runs moves them together. The header
    is whole milliseconds, truncated: half a millisecond is added back, which holds when the passes' fractions spread
    evenly over the millisecond, as they do at tens of ms."""
    body = json.dumps({"inputs": text}).encode()
    request = (f"POST /embed HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    connection = socket.create_connection((host, port))
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def one():
        start = time.perf_counter_ns()
        connection.sendall(request)
        received = b""
        while (end := received.find(b"\r\n\r\n")) < 0:
            received += connection.recv(65536)
        head = received[:end].decode("latin-1").lower()
        if not head.startswith("http/1.1 200"):
            sys.exit(f"unexpected response: {head.splitlines()[0]}")
        length = int(re.search(r"\r\ncontent-length: *([0-9]+)", head).group(1))
        while len(received) < end + 4 + length:
            received += connection.recv(65536)
        inference = int(re.search(r"\r\nx-inference-time: *([0-9]+)", head).group(1)) + 0.5
        return (time.perf_counter_ns() - start) / 1e6, inference

    for _ in range(10):
        one()
    passes = [one() for _ in range(runs)]
    milliseconds = sorted(trip for trip, _ in passes)
    trips = sorted(total - inference for total, inference in passes)
    trip = trips[len(trips) // 2]
    print(f"HTTP, one keep-alive client ({runs} runs): p50 {milliseconds[len(milliseconds) // 2]:.2f} ms, "
          f"p90 {milliseconds[len(milliseconds) * 9 // 10]:.2f} ms, min {milliseconds[0]:.2f} ms; "
          f"trip p50 {trip:.2f} ms (round trip less the server's x-inference-time)", flush=True)


if sys.argv[3] == "--latency":
    latency(sys.argv[1], int(sys.argv[2]), sys.argv[4], int(sys.argv[5]))
    sys.exit(0)

host, port, queries_file, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
levels = [int(value) for value in sys.argv[5:]]
queries = [json.loads(line)["text"] for line in open(queries_file, encoding="utf-8") if line.strip()]


def metrics():
    connection = http.client.HTTPConnection(host, port, timeout=60)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    values = {}
    for name in ("te_batch_next_size", "te_batch_next_tokens"):
        for part in ("sum", "count"):
            match = re.search(rf"^{name}_{part} ([0-9.e+]+)$", text, re.M)
            values[f"{name}_{part}"] = float(match.group(1)) if match else 0.0
    return values


def client(index, deadline, results):
    connection = http.client.HTTPConnection(host, port, timeout=120)
    sent = index
    while time.monotonic() < deadline:
        body = json.dumps({"inputs": queries[sent % len(queries)]})
        sent += 7
        start = time.monotonic()
        connection.request("POST", "/embed", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        elapsed = time.monotonic() - start
        if response.status != 200:
            results.append((elapsed, 0, response.status))
            continue
        results.append((elapsed, int(response.getheader("x-compute-tokens", "0")), 200))
    connection.close()


print(f"{'clients':>7} {'req/s':>8} {'tokens/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'mean batch':>10} {'mean batch tokens':>17}")
for clients in levels:
    before = metrics()
    results = []
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i, deadline, results)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    after = metrics()
    ok = sorted(r[0] for r in results if r[2] == 200)
    errors = sum(1 for r in results if r[2] != 200)
    tokens = sum(r[1] for r in results)
    batches = after["te_batch_next_size_count"] - before["te_batch_next_size_count"]
    mean_size = (after["te_batch_next_size_sum"] - before["te_batch_next_size_sum"]) / batches if batches else 0
    mean_tokens = (after["te_batch_next_tokens_sum"] - before["te_batch_next_tokens_sum"]) / batches if batches else 0
    p50 = ok[len(ok) // 2] * 1000 if ok else float("nan")
    p99 = ok[min(len(ok) - 1, int(len(ok) * 0.99))] * 1000 if ok else float("nan")
    print(f"{clients:>7} {len(ok) / wall:>8.1f} {tokens / wall:>9.0f} {p50:>8.1f} {p99:>8.1f} {errors:>6} "
          f"{mean_size:>10.1f} {mean_tokens:>17.0f}", flush=True)
