#!/usr/bin/env python3
"""The Python `tokenizers` side of scripts/bench/bench-tokenizer: same corpus, same measurements, one thread.

usage: bench_tokenizer.py TOKENIZER_DIR CORPUS.jsonl
"cold" clears the Rust BPE word cache before every pass (the Swift tokenizer has no cache); "warm" keeps it,
so repeated short texts are cache hits from the second pass on. WordPiece has no such cache: both are the same.
"""
import json
import os
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
from tokenizers import Tokenizer  # noqa: E402

path = os.path.join(sys.argv[1], "tokenizer.json")
loads = []
load_cpu = []
for _ in range(5):
    start = time.perf_counter()
    cpu_start = time.thread_time()
    tokenizer = Tokenizer.from_file(path)
    load_cpu.append(time.thread_time() - cpu_start)
    loads.append(time.perf_counter() - start)
print(f"python load tokenizer.json: first {loads[0]:.3f} s, median of 5 {sorted(loads)[2]:.3f} s "
      f"(thread CPU median {sorted(load_cpu)[2]:.3f} s)")

# As the Swift side: no truncation or padding from the file (all-MiniLM-L6-v2's pads and cuts at 128).
tokenizer.no_truncation()
tokenizer.no_padding()

with open(sys.argv[2], encoding="utf-8") as f:
    texts = [json.loads(line)["text"] for line in f if line.strip()]
corpus_bytes = sum(len(t.encode("utf-8")) for t in texts)


def measure(texts, minimum_seconds, cold):
    tokens_per_pass = sum(len(tokenizer.encode(t).ids) for t in texts)
    passes = 0
    elapsed = 0.0
    start = time.perf_counter()
    cpu_start = time.thread_time()
    while elapsed < minimum_seconds:
        if cold and hasattr(tokenizer.model, "_clear_cache"):
            tokenizer.model._clear_cache()
        for t in texts:
            tokenizer.encode(t)
        passes += 1
        elapsed = time.perf_counter() - start
    return passes, elapsed, tokens_per_pass, time.thread_time() - cpu_start


def report(label, n_bytes, result):
    passes, elapsed, tokens, cpu = result
    print(f"python {label}: {n_bytes * passes / elapsed / 1e6:.2f} MB/s, {tokens * passes / elapsed:.0f} tokens/s "
          f"({passes} passes, {elapsed:.2f} s; per CPU second: {n_bytes * passes / cpu / 1e6:.2f} MB/s, "
          f"{tokens * passes / cpu:.0f} tokens/s)")


for cold in (True, False):
    mode = "cold" if cold else "warm"
    report(f"corpus {mode} ({len(texts)} texts, {corpus_bytes} bytes)", corpus_bytes, measure(texts, 3, cold))
long_document = " ".join(texts)
report(f"long document ({len(long_document.encode('utf-8'))} bytes, one segment)", len(long_document.encode("utf-8")),
       measure([long_document], 3, True))
