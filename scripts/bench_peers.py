#!/usr/bin/env python3
"""Driver of scripts/bench-peers: runs each peer in its own child process, one after another, and prints one table.

Peers: `ours` (bench-encoder, this server's encoder offline), `http` (embed-server serve with N concurrent clients),
`pytorch` (sentence-transformers, PyTorch CPU, 2 threads), `llamacpp` (llama-cpp-python on the f32 GGUF, 2 threads);
`ours` and `http` once for each weight dtype asked for. For each: tokens/s over the corpus (tokens counted once with
the model's tokenizer, <bos>/<eos> included, no prompt), p50 latency of one short query embedded alone, the child's
peak RSS (ru_maxrss from wait4) and the smallest cosine between its embeddings and sentence-transformers fp32's for
the prompt-free golden texts of the test fixtures. `ours` also measures the GEMM rate on medium texts (32 × 128
tokens) against the peak the GEMM benchmark measures at the model's shapes.

`bench_peers.py --worker pytorch|llamacpp ...` is one peer's child: it prints one JSON line with its measurements."""
import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(REPO, "Tests/EmbeddingModelTests/Fixtures/embeddings.jsonl")
SHORT_QUERY = "Which planet is known as the Red Planet?"
QUERY_RUNS = 30
THREADS = 2
PEERS = ("ours", "http", "pytorch", "llamacpp")
DTYPES = ("float32", "bfloat16")
TITLES = {
    "ours": "this server's encoder, offline",
    "http": "this server over HTTP",
    "pytorch": "sentence-transformers, PyTorch CPU",
    "llamacpp": "llama.cpp, GGUF f32",
}


def log(message):
    print(f"bench-peers: {message}", file=sys.stderr, flush=True)


def read_corpus(path, limit):
    texts = [json.loads(line)["text"] for line in open(path, encoding="utf-8") if line.strip()]
    return texts[:limit] if limit > 0 else texts


def golden_cases():
    """The prompt-free golden texts and sentence-transformers fp32's normalized embeddings of them."""
    rows = [json.loads(line) for line in open(GOLDEN, encoding="utf-8")]
    return [(row["text"], row["normalized"]) for row in rows if row["prompt_name"] is None]


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    norm_a = sum(x * x for x in a) ** 0.5
    norm_b = sum(y * y for y in b) ** 0.5
    return dot / (norm_a * norm_b)


def min_cosine(vectors, cases):
    if any(len(v) != len(ref) for v, (_, ref) in zip(vectors, cases)):
        return float("nan")
    return min(cosine(v, ref) for v, (_, ref) in zip(vectors, cases))


def p50_ms(run):
    """Median wall time of `run()` over QUERY_RUNS runs after one warm-up run, in milliseconds."""
    run()
    times = []
    for _ in range(QUERY_RUNS):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run_child(command, timeout_seconds=3600, environment=None):
    """Runs `command`, returns (stdout, peak RSS in MB): ru_maxrss of that child alone, from wait4."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment)
    timer = threading.Timer(timeout_seconds, process.kill)
    timer.start()
    try:
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{command[0]} exited with {process.returncode}:\n{output}")
    return output, usage.ru_maxrss / 1024


# ---- children ------------------------------------------------------------------------------------------------


def worker_pytorch(args, texts, cases):
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(THREADS)
    loading = time.perf_counter()
    model = SentenceTransformer(args.model_dir, device="cpu", model_kwargs={"torch_dtype": torch.float32})
    load_seconds = time.perf_counter() - loading
    model.encode(texts[:8], batch_size=32)
    start = time.perf_counter()
    model.encode(texts, batch_size=32)
    seconds = time.perf_counter() - start
    latency = p50_ms(lambda: model.encode([SHORT_QUERY]))
    vectors = model.encode([text for text, _ in cases], normalize_embeddings=True).tolist()
    return {"seconds": seconds, "p50_ms": latency, "vectors": vectors,
            "note": f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch_size 32, "
                    f"loaded in {load_seconds:.1f} s"}


def worker_llamacpp(args, texts, cases):
    import llama_cpp

    # A non-causal encoder needs each whole sequence in one micro-batch: n_ubatch covers the longest input.
    loading = time.perf_counter()
    llm = llama_cpp.Llama(model_path=args.gguf, embedding=True, n_threads=THREADS, n_threads_batch=THREADS,
                          n_ctx=2048, n_batch=2048, n_ubatch=2048, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                          verbose=False)
    load_seconds = time.perf_counter() - loading
    tokens = sum(len(llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)) for text in texts)
    llm.embed(texts[:8])
    start = time.perf_counter()
    llm.embed(texts)
    seconds = time.perf_counter() - start
    latency = p50_ms(lambda: llm.embed([SHORT_QUERY]))
    vectors = llm.embed([text for text, _ in cases], normalize=True)
    return {"seconds": seconds, "p50_ms": latency, "vectors": vectors,
            "note": f"llama-cpp-python {llama_cpp.__version__}, {THREADS} threads, loaded in {load_seconds:.1f} s, "
                    f"{tokens} tokens as llama.cpp counts them"}


# ---- peers run from the driver --------------------------------------------------------------------------------


def gemm_flops_per_token(model_dir):
    """FLOPs of the per-token GEMMs of the encoder layers (q, k, v, o, gate, up, down); attention and the two Dense
    layers, paid per sequence, are left out, so the rate derived from it undercounts the work done."""
    config = json.load(open(os.path.join(model_dir, "config.json"), encoding="utf-8"))
    hidden, inner = config["hidden_size"], config["intermediate_size"]
    query = config["num_attention_heads"] * config["head_dim"]
    key = config["num_key_value_heads"] * config["head_dim"]
    per_layer = 2 * hidden * query + 2 * hidden * key + 3 * hidden * inner
    return 2 * per_layer * config["num_hidden_layers"]


def gemm_peaks(args):
    """The best GFLOP/s of the GEMM benchmark over the model's shapes at 512 and 2,048 rows, per weight dtype."""
    output, _ = run_child([os.path.join(args.bin, "bench-kernels"), str(THREADS), "matmul"],
                          environment={**os.environ, "BENCH_ROWS": "512,2048"})
    peaks = {}
    for dtype, table in re.findall(r"^matmul GFLOP/s, (\w+) weights.*?\n(.*?)(?:\n\n|\Z)", output, re.M | re.S):
        figures = [float(x) for line in table.splitlines()[1:] for x in re.findall(r"\s([0-9]+\.[0-9])\b", line)]
        if figures:
            peaks[dtype] = max(figures)
    if set(peaks) != set(DTYPES):
        raise RuntimeError(f"unexpected bench-kernels output:\n{output}")
    return peaks


def medium_tokens_per_second(args, dtype):
    """The encoder's tokens/s on packed medium texts (bench-encoder's synthetic 32 × 128 batches)."""
    output, _ = run_child([
        os.path.join(args.bin, "bench-encoder"), "--model-id", args.model_dir, "--seconds", "2",
        "--compute-threads", str(THREADS), "--dtype", dtype])
    medium = re.search(r"^medium \(128 tokens × 32\): ([0-9.]+) tokens/s", output, re.M)
    if not medium:
        raise RuntimeError(f"unexpected bench-encoder output:\n{output}")
    return float(medium.group(1))


def run_label(name, dtype):
    """A row's title: the peer, and the weight dtype for this server's rows."""
    return TITLES[name] + (f", {dtype}" if dtype else "")


def peer_ours(args, dtype, corpus_file, tokens, cases):
    output, rss = run_child([
        os.path.join(args.bin, "bench-encoder"), "--model-id", args.model_dir, "--corpus", corpus_file, "--corpus-only",
        "--seconds", "0", "--compute-threads", str(THREADS), "--dtype", dtype, "--query", SHORT_QUERY,
        "--query-runs", str(QUERY_RUNS)])
    corpus = re.search(r"^corpus \(\d+ texts, (\d+) tokens.*?\): ([0-9.]+) tokens/s \(([0-9.]+) s per round", output, re.M)
    query = re.search(r"^query alone .*: p50 ([0-9.]+) ms", output, re.M)
    if not corpus or not query:
        raise RuntimeError(f"unexpected bench-encoder output:\n{output}")
    if int(corpus.group(1)) != tokens:
        log(f"bench-encoder counted {corpus.group(1)} tokens, the Python tokenizer {tokens}")
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as file:
        for text, _ in cases:
            file.write(json.dumps({"text": text}) + "\n")
    try:
        embedded = subprocess.run([os.path.join(args.bin, "embed-server"), "embed", "--model-id", args.model_dir,
                                   "--input", file.name, "--compute-threads", str(THREADS), "--dtype", dtype],
                                  check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(file.name)
    vectors = [json.loads(line)["embedding"] for line in embedded.splitlines()]
    return {"tokens_per_second": float(corpus.group(2)), "p50_ms": float(query.group(1)), "rss_mb": rss,
            "min_cosine": min_cosine(vectors, cases), "medium_tokens_per_second": medium_tokens_per_second(args, dtype),
            "note": f"bench-encoder {dtype}, {THREADS} threads, packed batches of 4096 tokens; medium texts: "
                    f"32 × 128 tokens, --seconds 2"}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post_embed(connection, inputs):
    connection.request("POST", "/embed", json.dumps({"inputs": inputs}), {"Content-Type": "application/json"})
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"POST /embed answered {response.status}: {body[:200]!r}")
    return json.loads(body)


def peer_http(args, dtype, texts, tokens, cases):
    port = free_port()
    log_file = tempfile.TemporaryFile()
    server = subprocess.Popen([os.path.join(args.bin, "embed-server"), "serve", "--model-id", args.model_dir,
                               "--hostname", "127.0.0.1", "--port", str(port), "--dtype", dtype,
                               "--max-concurrent-requests", "1024"], stdout=log_file, stderr=log_file)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                connection.request("GET", "/health")
                health = connection.getresponse()
                health.read()
                if health.status == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log_file.seek(0)
                raise RuntimeError(f"embed-server did not come up:\n{log_file.read().decode(errors='replace')}")
            time.sleep(0.5)
        post_embed(connection, texts[:8])
        # Closed loop: each client sends one corpus text per request, the next one not yet taken, until none is left.
        lock = threading.Lock()
        next_index = [0]
        failures = []

        def client():
            own = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            try:
                while True:
                    with lock:
                        index = next_index[0]
                        next_index[0] += 1
                    if index >= len(texts):
                        return
                    post_embed(own, texts[index])
            except Exception as error:  # reported after the run; the other clients go on
                failures.append(error)
            finally:
                own.close()

        clients = [threading.Thread(target=client) for _ in range(args.clients)]
        start = time.perf_counter()
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
        seconds = time.perf_counter() - start
        if failures:
            raise RuntimeError(f"{len(failures)} clients failed, first: {failures[0]}")
        # A fresh connection: the first one sat idle through the load run, longer than the keep-alive time-out.
        connection.close()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        latency = p50_ms(lambda: post_embed(connection, SHORT_QUERY))
        vectors = post_embed(connection, [text for text, _ in cases])
        connection.close()
    finally:
        server.send_signal(signal.SIGTERM)
        killer = threading.Timer(30, server.kill)
        killer.start()
        try:
            _, _, usage = os.wait4(server.pid, 0)
        finally:
            killer.cancel()
            server.returncode = 0
            log_file.close()
    return {"tokens_per_second": tokens / seconds, "p50_ms": latency, "rss_mb": usage.ru_maxrss / 1024,
            "min_cosine": min_cosine(vectors, cases),
            "note": f"embed-server serve {dtype}, {args.clients} clients, one text per request; "
                    f"p50 is one client's POST /embed round trip"}


def peer_python(args, name, corpus_file, tokens, cases):
    command = [sys.executable, os.path.abspath(__file__), "--worker", name, "--model-dir", args.model_dir,
               "--corpus", corpus_file] + (["--gguf", args.gguf] if args.gguf else [])
    output, rss = run_child(command)
    result = json.loads(output.strip().splitlines()[-1])
    return {"tokens_per_second": tokens / result["seconds"], "p50_ms": result["p50_ms"], "rss_mb": rss,
            "min_cosine": min_cosine(result["vectors"], cases), "note": result["note"]}


def count_tokens(model_dir, texts):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    return sum(min(2048, len(encoding.ids)) for encoding in tokenizer.encode_batch(texts, add_special_tokens=True))


# cpuinfo's family/model → the core's name, for the result file's label ("2-core AMD EPYC (Zen 4) VM").
CORE_NAMES = {("AuthenticAMD", 25, 1): "Zen 3", ("AuthenticAMD", 25, 17): "Zen 4", ("AuthenticAMD", 26, None): "Zen 5",
              ("GenuineIntel", 6, 143): "Sapphire Rapids", ("GenuineIntel", 6, 207): "Emerald Rapids",
              ("GenuineIntel", 6, 106): "Ice Lake"}
# The flags that decide which kernels start-up picks; the rest of cpuinfo's list says nothing about these figures.
KERNEL_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx_vnni",
                "amx_tile", "amx_bf16", "amx_int8")


def machine_description():
    """What the result file says about the machine: cpuinfo's identity, the kernel-relevant flags, the core count."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    vendor = fields.get("vendor_id", "")
    family = int(fields.get("cpu family", "0") or 0)
    model = int(fields.get("model", "0") or 0)
    core = CORE_NAMES.get((vendor, family, model)) or CORE_NAMES.get((vendor, family, None))
    name = fields.get("model name", "unknown CPU")
    brand = "AMD EPYC" if "EPYC" in name else "Intel Xeon" if "Xeon" in name else name
    cores = os.cpu_count()
    flags = [flag for flag in KERNEL_FLAGS if flag in fields.get("flags", "").split()]
    width = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    label = f"{cores}-core {brand}{f' ({core})' if core else ''} VM, {width}"
    return {"label": label, "cpu_model_name": name, "vendor": vendor, "cpu_family": family, "cpu_model": model,
            "cores": cores, "flags": flags, "kernels": os.environ.get("EMBED_KERNELS") or "chosen at start-up"}


def git_commit():
    try:
        commit = subprocess.check_output(["git", "-C", REPO, "rev-parse", "--short=7", "HEAD"], text=True).strip()
        dirty = subprocess.run(["git", "-C", REPO, "diff", "--quiet", "HEAD", "--", "Sources", "Package.swift"]).returncode
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_results(directory, command, clients, texts, tokens, cases, load_before, runs, results):
    """One JSON file per run: what docs/benchmarks.md's tables are made from (scripts/bench-tables)."""
    record = {
        "schema": 1,
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "commit": git_commit(),
        "command": command,
        "machine": machine_description(),
        "load_average_before": round(load_before, 1),
        "corpus": {"texts": len(texts), "tokens": tokens},
        "http_clients": clients,
        "cosine_reference": f"sentence-transformers fp32, {len(cases)} prompt-free golden texts",
        "results": [
            {"peer": name, "dtype": dtype or "float32", "title": run_label(name, dtype),
             "tokens_per_second": round(results[name, dtype]["tokens_per_second"], 1),
             "p50_ms": round(results[name, dtype]["p50_ms"], 2), "rss_mb": round(results[name, dtype]["rss_mb"]),
             "min_cosine": round(results[name, dtype]["min_cosine"], 6)}
            for name, dtype in runs
        ],
    }
    os.makedirs(directory, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", record["machine"]["label"].lower()).strip("-")
    path = os.path.join(directory, f"{time.strftime('%Y-%m-%dT%H%M', time.gmtime())}-{slug}-{record['commit']}.json")
    with open(path, "w") as file:
        json.dump(record, file, indent=1, ensure_ascii=False)
        file.write("\n")
    log(f"results written to {path}; scripts/bench-tables makes docs/benchmarks.md's tables from them")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--corpus", required=True, help="JSON lines with a \"text\" field")
    parser.add_argument("--gguf", help="the model as GGUF f32 with its Dense layers (for llamacpp)")
    parser.add_argument("--bin", help="directory of the release embed-server and bench-encoder (for ours, http)")
    parser.add_argument("--only", default=",".join(PEERS), help="comma-separated peers, run in this order")
    parser.add_argument("--dtype", default=",".join(DTYPES),
                        help="comma-separated weight dtypes of ours and http, each measured in turn")
    parser.add_argument("--texts", type=int, default=0, help="only the first N corpus texts (0: all)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument("--results-dir", help="also write the run's figures as a JSON file into this directory")
    parser.add_argument("--command", default="scripts/bench-peers", help="the command line, for the result file")
    parser.add_argument("--worker", choices=("pytorch", "llamacpp"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    texts = read_corpus(args.corpus, args.texts)
    cases = golden_cases()
    if args.worker:
        worker = worker_pytorch if args.worker == "pytorch" else worker_llamacpp
        print(json.dumps(worker(args, texts, cases)), flush=True)
        return

    peers = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in peers if name not in PEERS]
    if unknown:
        parser.error(f"unknown peers {', '.join(unknown)}; known: {', '.join(PEERS)}")
    dtypes = [dtype.strip() for dtype in args.dtype.split(",") if dtype.strip()]
    if not dtypes or any(dtype not in DTYPES for dtype in dtypes):
        parser.error(f"--dtype takes {' or '.join(DTYPES)}, comma-separated")
    # Our rows come once per dtype, keyed (peer, dtype); the peers in Python always run fp32 (dtype None).
    runs = [(name, dtype) for name in peers for dtype in (dtypes if name in ("ours", "http") else [None])]
    tokens = count_tokens(args.model_dir, texts)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as file:
        for text in texts:
            file.write(json.dumps({"text": text}) + "\n")
    corpus_file = file.name
    results = {}
    load_before = os.getloadavg()[0]
    try:
        for name, dtype in runs:
            log(f"{name}: {run_label(name, dtype)} ...")
            started = time.monotonic()
            if name == "ours":
                results[name, dtype] = peer_ours(args, dtype, corpus_file, tokens, cases)
            elif name == "http":
                results[name, dtype] = peer_http(args, dtype, texts, tokens, cases)
            else:
                results[name, dtype] = peer_python(args, name, corpus_file, tokens, cases)
            log(f"{name}: done in {time.monotonic() - started:.0f} s: "
                f"{results[name, dtype]['tokens_per_second']:.0f} tokens/s")
        peaks = gemm_peaks(args) if "ours" in peers else {}
    finally:
        os.unlink(corpus_file)
    flops_per_token = gemm_flops_per_token(args.model_dir)

    print(f"Corpus: {len(texts)} texts, {tokens} tokens (model tokenizer, <bos>/<eos> included), no prompt applied "
          f"by any peer. Short query: {SHORT_QUERY!r} alone, p50 of {QUERY_RUNS} runs after a warm-up. "
          f"Cosine: against sentence-transformers fp32 for the {len(cases)} prompt-free golden texts.")
    # Other processes on the same cores slow every peer down: the load average says how quiet the run was.
    print(f"Machine: {os.cpu_count()} CPUs; 1-minute load average {load_before:.1f} before the run, "
          f"{os.getloadavg()[0]:.1f} after.")
    print()
    print("| peer | tokens/s | p50 short query ms | peak RSS MB | min cosine vs reference |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, dtype in runs:
        result = results[name, dtype]
        print(f"| {run_label(name, dtype)} | {result['tokens_per_second']:.0f} | {result['p50_ms']:.1f} | {result['rss_mb']:.0f} "
              f"| {result['min_cosine']:.6f} |")
    print()
    for name, dtype in runs:
        print(f"- {name}{f' {dtype}' if dtype else ''}: {results[name, dtype]['note']}")
    lines = []

    def ratio_target(over, under, target, label):
        if over in results and under in results:
            ratio = results[over]["tokens_per_second"] / results[under]["tokens_per_second"]
            shown = f"{ratio:.0%}" if target < 1 else f"{ratio:.2f}×"
            lines.append(f"- {label}: {shown} ({'met' if ratio >= target else 'not met'})")

    for dtype in dtypes:
        ratio_target(("ours", dtype), ("pytorch", None), 4.0, f"offline {dtype} ≥ 4× PyTorch")
        ratio_target(("ours", dtype), ("llamacpp", None), 4.0, f"offline {dtype} ≥ 4× llama.cpp")
        ratio_target(("http", dtype), ("ours", dtype), 0.8, f"HTTP {dtype}, {args.clients} clients ≥ 80% of offline")
        ours = results.get(("ours", dtype))
        if not ours:
            continue
        gflops = ours["medium_tokens_per_second"] * flops_per_token / 1e9
        share = gflops / peaks[dtype]
        lines.append(f"- {dtype} GEMMs on medium texts ≥ 60% of the measured GEMM peak: {gflops:.0f} "
                     f"of {peaks[dtype]:.0f} GFLOP/s, {share:.0%} ({'met' if share >= 0.6 else 'not met'})")
        # A short query reads every weight once, so its target follows the bytes: half the time with bf16 weights.
        limit = 15.0 if dtype == "float32" else 8.0
        lines.append(f"- one short query offline, p50 ≤ {limit:.0f} ms ({dtype}): {ours['p50_ms']:.1f} ms "
                     f"({'met' if ours['p50_ms'] <= limit else 'not met'})")
        if dtype == "bfloat16":
            met = ours["min_cosine"] >= 0.9999 and ours["rss_mb"] < 800
            lines.append(f"- bf16 min cosine ≥ 0.9999 with peak RSS < 800 MB: {ours['min_cosine']:.6f}, "
                         f"{ours['rss_mb']:.0f} MB ({'met' if met else 'not met'})")
    if lines:
        print()
        print("Targets (medium-text GEMM rate counts only the layers' per-token GEMMs, "
              f"{flops_per_token / 1e9:.3f} GFLOP per token; peak: best of "
              "bench-kernels' model shapes at 512 and 2,048 rows):")
        print("\n".join(lines))
        missed = sum(line.endswith("(not met)") for line in lines)
        print(f"{len(lines) - missed} of {len(lines)} targets met in this run.")
    if args.results_dir:
        write_results(args.results_dir, args.command, args.clients, texts, tokens, cases, load_before, runs, results)


if __name__ == "__main__":
    main()
