#!/usr/bin/env python3
"""Load generator for scripts/bench/bench-fairness: query clients and bulk clients against one server, in three
phases (idle queries, bulk alone, both). Bulk tokens/s come from the server's own count of tokens run (/metrics), less the
queries' tokens, so a 16,384-token request finishing just outside a window does not skew the figure.

Usage: bench_fairness.py HOST PORT CORPUS SECONDS"""
import http.client
import json
import re
import socket
import sys
import threading
import time

host, port, corpus, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
QUERY_CLIENTS, BULK_CLIENTS, BULK_INPUTS, BULK_TOKENS = 4, 4, 32, 512
texts = [json.loads(line)["text"] for line in open(corpus, encoding="utf-8") if line.strip()]
queries = [" ".join(text.split()[:9]) for text in texts]


def post(connection, path, body):
    connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    return response.status, response.getheader("x-compute-tokens", "0"), data


def tokens_run():
    connection = http.client.HTTPConnection(host, port, timeout=60)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    match = re.search(r"^te_batch_next_tokens_sum ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


# Bulk inputs: 512 real token ids each (BOS, 510 ids cut from the corpus, EOS), sent as pre-tokenized inputs.
connection = http.client.HTTPConnection(host, port, timeout=120)
ids = []
for first in range(0, len(texts), 32):
    status, _, data = post(connection, "/tokenize", {"inputs": texts[first:first + 32], "add_special_tokens": False})
    assert status == 200, data[:200]
    ids += [token["id"] for tokens in json.loads(data) for token in tokens]
assert len(ids) >= 510 * BULK_INPUTS, len(ids)
bulk_inputs = [[2] + ids[i * 510:(i + 1) * 510] + [1] for i in range(BULK_INPUTS)]


def query_client(index, stop, latencies, tokens, errors):
    connection = http.client.HTTPConnection(host, port, timeout=300)
    sent = index
    while not stop.is_set():
        start = time.monotonic()
        status, count, _ = post(connection, "/embed", {"inputs": queries[sent % len(queries)]})
        elapsed = time.monotonic() - start
        sent += QUERY_CLIENTS
        if status != 200:
            errors.append(status)
            continue
        latencies.append(elapsed)
        tokens.append(int(count))


def bulk_client(index, stop, completed, errors, connections):
    connection = http.client.HTTPConnection(host, port, timeout=600)
    connection.connect()
    connections.append(connection)
    while not stop.is_set():
        try:
            status, _, _ = post(connection, "/embed", {"inputs": bulk_inputs, "truncate": True})
        except OSError:
            if stop.is_set():
                return  # its connection was shut at the end of the phase
            raise
        if status != 200:
            errors.append(status)
            time.sleep(0.1)
            continue
        completed.append(time.monotonic())


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def phase(name, queries_on, bulk_on):
    stop = threading.Event()
    latencies, query_tokens, completed, errors = [], [], [], []
    connections = []
    bulk = [threading.Thread(target=bulk_client, args=(i, stop, completed, errors, connections))
            for i in range(BULK_CLIENTS)]
    if bulk_on:
        for thread in bulk:
            thread.start()
        time.sleep(5)  # the bulk requests are queued and the encoder is saturated before measuring
    query = [threading.Thread(target=query_client, args=(i, stop, latencies, query_tokens, errors))
             for i in range(QUERY_CLIENTS)]
    before = tokens_run()
    started = time.monotonic()
    if queries_on:
        for thread in query:
            thread.start()
    time.sleep(seconds)
    wall = time.monotonic() - started
    run = tokens_run() - before
    queried = sum(query_tokens)
    stop.set()
    # Bulk requests in flight hold minutes of work (4 x 16,384 tokens): disconnect them, so the server drops
    # what is still queued, instead of waiting for it.
    for connection in connections:
        try:
            connection.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    for thread in (query if queries_on else []) + (bulk if bulk_on else []):
        thread.join()
    bulk_rate = (run - queried) / wall if bulk_on else 0.0
    row = {"phase": name, "queries": len(latencies), "p50_ms": percentile(latencies, 0.5) * 1000,
           "p99_ms": percentile(latencies, 0.99) * 1000, "max_ms": max(latencies, default=float("nan")) * 1000,
           "bulk_tokens_per_s": bulk_rate, "errors": len(errors)}
    print(f"{name:>6} {row['queries']:>8} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['max_ms']:>8.1f} "
          f"{bulk_rate:>14.0f} {row['errors']:>6}", flush=True)
    return row


print(f"{QUERY_CLIENTS} query clients (~12 tokens), {BULK_CLIENTS} bulk clients ({BULK_INPUTS} x {BULK_TOKENS} tokens), "
      f"{seconds:.0f} s per phase")
print(f"{'phase':>6} {'queries':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'bulk tokens/s':>14} {'errors':>6}")
idle = phase("idle", True, False)
alone = phase("bulk", False, True)
mixed = phase("mixed", True, True)
ratio = mixed["bulk_tokens_per_s"] / alone["bulk_tokens_per_s"] if alone["bulk_tokens_per_s"] else float("nan")
print(f"mixed query p99 {mixed['p99_ms']:.0f} ms (idle {idle['p99_ms']:.0f} ms; goal <= 1000): "
      f"{'met' if mixed['p99_ms'] <= 1000 else 'missed'}")
print(f"mixed bulk throughput {ratio * 100:.0f}% of bulk alone (goal >= 90%): {'met' if ratio >= 0.9 else 'missed'}")
sys.exit(0 if mixed["errors"] + alone["errors"] + idle["errors"] == 0 else 1)
