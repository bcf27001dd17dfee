#!/usr/bin/env python3
"""Reranking speed and parity on a MiniLM-sized cross-encoder: this server's /rerank against sentence-transformers'
CrossEncoder.predict on PyTorch CPU (2 threads), same pairs, same machine.

No published cross-encoder is fetched here: the cross-encoder is all-MiniLM-L6-v2's encoder (6 layers, 384 wide, its
WordPiece tokenizer) with its pooler and a random one-label classifier, saved with save_pretrained in a temporary
directory; the work per pair is that of cross-encoder/ms-marco-MiniLM-L6-v2. Queries and documents come from the bench
corpus. Prints pairs/s and tokens/s of each side and the largest score difference.

Usage (with the reference venv, after `swift build -c release --product embed-server`):
    python3 scripts/bench/bench-rerank.py --bin "$(swift build -c release --show-bin-path)" \\
        --minilm "$(scripts/fetch-model.sh sentence-transformers/all-MiniLM-L6-v2)" [--pairs 256] [--clients 4]
"""
import argparse
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

from bench_peers import free_port, wait_until_healthy

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
THREADS = 2
TEXTS_PER_REQUEST = 32


def build_cross_encoder(minilm, directory):
    import torch
    from transformers import BertForSequenceClassification

    torch.manual_seed(5)
    model = BertForSequenceClassification.from_pretrained(minilm, num_labels=1)
    with torch.no_grad():
        model.classifier.weight.normal_(0, 1.0)
    model.save_pretrained(directory)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if os.path.exists(os.path.join(minilm, name)):
            shutil.copy(os.path.join(minilm, name), directory)


def requests_from_corpus(count):
    """(query, documents) per request: a query of a corpus text's first 8 words, then 32 corpus texts."""
    texts = [json.loads(line)["text"] for line in open(os.path.join(REPO, "scripts/data/corpus.jsonl"))]
    documents = texts[len(texts) // 4:][:count]
    return [(" ".join(texts[index].split()[:8]), documents[start:start + TEXTS_PER_REQUEST])
            for index, start in enumerate(range(0, len(documents), TEXTS_PER_REQUEST))]


def reference(directory, pairs):
    import torch
    from sentence_transformers import CrossEncoder

    torch.set_num_threads(THREADS)
    encoder = CrossEncoder(directory, device="cpu")
    encoder.predict(pairs[:32], batch_size=32)  # warm-up
    start = time.perf_counter()
    scores = encoder.predict(pairs, batch_size=32)
    seconds = time.perf_counter() - start
    tokens = sum(len(encoder.tokenizer(q, d, truncation=True)["input_ids"]) for q, d in pairs)
    return [float(s) for s in scores], seconds, tokens


def post(port, body):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request("POST", "/rerank", json.dumps(body), {"Content-Type": "application/json"})
    response = connection.getresponse()
    payload = response.read()
    if response.status != 200:
        raise RuntimeError(f"/rerank answered {response.status}: {payload[:200]}")
    return json.loads(payload), int(response.getheader("x-compute-tokens"))


def ours(binary, directory, requests, clients):
    port = free_port()
    log = tempfile.TemporaryFile()
    server = subprocess.Popen(
        [binary, "serve", "--model-id", directory, "--port", str(port), "--hostname", "127.0.0.1"],
        stdout=log, stderr=log)
    try:
        wait_until_healthy(server, port, log)
        expanded, first = [], 0
        for query, documents in requests:
            expanded.append((list(range(first, first + len(documents))), {"query": query, "texts": documents}))
            first += len(documents)
        post(port, expanded[0][1])  # warm-up
        scores = [0.0] * first
        tokens = [0]
        queue = list(expanded)
        lock = threading.Lock()

        def client():
            while True:
                with lock:
                    if not queue:
                        return
                    indices, body = queue.pop()
                ranks, used = post(port, body)
                with lock:
                    tokens[0] += used
                    for rank in ranks:
                        scores[indices[rank["index"]]] = rank["score"]

        start = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return scores, time.perf_counter() - start, tokens[0]
    finally:
        server.terminate()
        server.wait(timeout=60)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="directory of embed-server")
    parser.add_argument("--minilm", required=True, help="the sentence-transformers/all-MiniLM-L6-v2 snapshot")
    parser.add_argument("--pairs", type=int, default=256)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        build_cross_encoder(args.minilm, directory)
        requests = requests_from_corpus(args.pairs)
        pairs = [(query, document) for query, documents in requests for document in documents]
        served, served_seconds, served_tokens = ours(
            os.path.join(args.bin, "embed-server"), directory, requests, args.clients)
        expected, torch_seconds, torch_tokens = reference(directory, pairs)
    difference = max(abs(a - b) for a, b in zip(served, expected))
    print(f"pairs: {len(pairs)} ({torch_tokens} tokens, at most 512 each)")
    print(f"embed-server /rerank, {args.clients} clients x {TEXTS_PER_REQUEST} texts: "
          f"{len(pairs) / served_seconds:.0f} pairs/s, {served_tokens / served_seconds:.0f} tokens/s")
    print(f"CrossEncoder.predict, PyTorch CPU {THREADS} threads, batch 32: "
          f"{len(pairs) / torch_seconds:.0f} pairs/s, {torch_tokens / torch_seconds:.0f} tokens/s")
    print(f"largest score difference: {difference:.2e}")


if __name__ == "__main__":
    main()
