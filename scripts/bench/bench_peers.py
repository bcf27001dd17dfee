#!/usr/bin/env python3
"""Driver of scripts/bench/bench-peers: runs each peer in its own child process, one after another, and prints one
table.

Peers, all on the model of --model-id (EmbeddingGemma or all-MiniLM-L6-v2): `ours` (bench-encoder, this server's
encoder offline), `http` (embed-server serve with N concurrent clients), `pytorch` (sentence-transformers, PyTorch
CPU, 2 threads), `ort-fp32`, `ort-int8`, `ort-nbits8` (ONNX Runtime, 2 threads, all graph optimizations, on the
sentence-transformers model exported whole: fp32, dynamic int8 per channel, 8-bit MatMulNBits; each run one text at a
time and in length-sorted batches of 32, in two children, and the faster one reported), `llamacpp`, `llamacpp-bf16`,
`llamacpp-q8_0` (llama-cpp-python on the GGUF f32, bf16, Q8_0); `ours` and `http` once for each weight dtype asked
for. For each: tokens/s over the corpus (tokens counted once with the model's tokenizer, specials included, truncated
to the model's max_seq_length as sentence-transformers does, no prompt), p50 latency of one short query embedded
alone, the child's peak RSS (ru_maxrss from wait4), and the min and median cosine between its embeddings and
sentence-transformers fp32's for the golden texts of the test fixtures (the prompt-free ones for EmbeddingGemma). On
EmbeddingGemma `ours` also measures the GEMM rate on medium texts (32 × 128 tokens) against the peak the GEMM
benchmark measures at the model's shapes.

`bench_peers.py --worker pytorch|ort|llamacpp ...` is one peer's child: it prints one JSON line with its measurements.
`bench_peers.py --prepare-onnx ...` exports and quantizes the ONNX models the `ort-*` peers read (cached)."""
import argparse
import fnmatch
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

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GEMMA = "google/embeddinggemma-300m"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
# sentence-transformers fp32's embeddings of fixed texts, made by scripts/fixtures/make-golden-fixtures.py and
# scripts/fixtures/make-bert-golden.py: what every peer's cosine is measured against.
GOLDEN = {GEMMA: "Tests/EmbeddingModelTests/Fixtures/embeddings.jsonl",
          MINILM: "Tests/EmbeddingModelTests/Fixtures/minilm-golden.jsonl"}
SHORT_QUERY = "Which planet is known as the Red Planet?"
QUERY_RUNS = 30
THREADS = 2
BATCH = 32
PEERS = ("ours", "http", "pytorch", "ort-fp32", "ort-int8", "ort-nbits8", "llamacpp", "llamacpp-bf16", "llamacpp-q8_0")
DTYPES = ("float32", "bfloat16")
TITLES = {
    "ours": "this server's encoder, offline",
    "http": "this server over HTTP",
    "pytorch": "sentence-transformers, PyTorch CPU",
    "ort-fp32": "ONNX Runtime fp32 (all graph optimizations)",
    "ort-int8": "ONNX Runtime int8 (dynamic, per-channel)",
    "ort-nbits8": "ONNX Runtime MatMulNBits 8-bit (blocks of 32, int8 compute)",
    "llamacpp": "llama.cpp, GGUF f32",
    "llamacpp-bf16": "llama.cpp, GGUF bf16",
    "llamacpp-q8_0": "llama.cpp, GGUF Q8_0",
}
# The ONNX file of each ONNX Runtime peer, and the GGUF type of each llama.cpp peer (the --outtype it was made with).
ONNX_FILES = {"ort-fp32": "fp32.onnx", "ort-int8": "int8.onnx", "ort-nbits8": "nbits8.onnx"}
GGUF_TYPES = {"llamacpp": "f32", "llamacpp-bf16": "bf16", "llamacpp-q8_0": "q8_0"}
# The peers' weight dtypes, as the result files record them (ours and http: --dtype; the rest fp32).
PEER_DTYPES = {"ort-int8": "int8", "ort-nbits8": "int8", "llamacpp-bf16": "bfloat16", "llamacpp-q8_0": "int8"}
EIGHT_BIT = ("ort-int8", "ort-nbits8", "llamacpp-q8_0")
# How an ONNX Runtime child feeds the corpus: the driver runs both and reports the faster.
BATCHINGS = {"single": "one text at a time", "sorted": f"length-sorted batches of {BATCH}"}


def log(message):
    print(f"bench-peers: {message}", file=sys.stderr, flush=True)


def read_corpus(path, limit):
    texts = [json.loads(line)["text"] for line in open(path, encoding="utf-8") if line.strip()]
    return texts[:limit] if limit > 0 else texts


def golden_cases(model_id):
    """The golden texts without a prompt and sentence-transformers fp32's normalized embeddings of them; not the
    empty text, which /embed refuses as TEI does."""
    if model_id not in GOLDEN:
        raise SystemExit(f"bench-peers: no golden embeddings for {model_id} (known: {', '.join(GOLDEN)})")
    rows = [json.loads(line) for line in open(os.path.join(REPO, GOLDEN[model_id]), encoding="utf-8")]
    return [(row["text"], row["normalized"]) for row in rows if row.get("prompt_name") is None and row["text"]]


def max_seq_length(model_dir):
    """The length sentence-transformers truncates to (sentence_bert_config.json), specials included."""
    try:
        return json.load(open(os.path.join(model_dir, "sentence_bert_config.json")))["max_seq_length"]
    except (OSError, KeyError):
        return 512


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    norm_a = sum(x * x for x in a) ** 0.5
    norm_b = sum(y * y for y in b) ** 0.5
    return dot / (norm_a * norm_b)


def cosines(vectors, cases):
    """The min and the median cosine of the peer's vectors against the reference's (NaN when they do not match)."""
    if len(vectors) != len(cases) or any(len(v) != len(ref) for v, (_, ref) in zip(vectors, cases)):
        return float("nan"), float("nan")
    values = [cosine(v, ref) for v, (_, ref) in zip(vectors, cases)]
    return min(values), statistics.median(values)


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
    model.encode(texts[:8], batch_size=BATCH)
    start = time.perf_counter()
    model.encode(texts, batch_size=BATCH)
    seconds = time.perf_counter() - start
    latency = p50_ms(lambda: model.encode([SHORT_QUERY]))
    vectors = model.encode([text for text, _ in cases], normalize_embeddings=True).tolist()
    return {"seconds": seconds, "p50_ms": latency, "vectors": vectors,
            "note": f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch_size {BATCH}, "
                    f"loaded in {load_seconds:.1f} s"}


def load_tokenizer(model_dir):
    """The model's Hugging Face tokenizer as sentence-transformers runs it: specials added, truncated to
    max_seq_length; the id that pads a batch."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_seq_length(model_dir))
    config = json.load(open(os.path.join(model_dir, "tokenizer_config.json"), encoding="utf-8"))
    pad = config.get("pad_token")
    pad = pad.get("content") if isinstance(pad, dict) else pad
    pad_id = tokenizer.token_to_id(pad) if pad else None
    return tokenizer, pad_id or 0


def worker_ort(args, texts, cases):
    import numpy as np
    import onnxruntime

    tokenizer, pad_id = load_tokenizer(args.model_dir)
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    loading = time.perf_counter()
    session = onnxruntime.InferenceSession(args.onnx, options, providers=["CPUExecutionProvider"])
    load_seconds = time.perf_counter() - loading
    names = [item.name for item in session.get_inputs()]

    def run(encodings):
        # Right padding with the attention mask: positions stay 0..n-1 for every row, as in sentence-transformers.
        width = max(len(encoding.ids) for encoding in encodings)
        ids = np.full((len(encodings), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, :len(encoding.ids)] = encoding.ids
            mask[row, :len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return session.run(None, {name: feeds[name] for name in names})[0]

    def embed(batch):
        # Tokenized here, one text after another, so that tokens/s includes it as for the other peers.
        encodings = [tokenizer.encode(text) for text in batch]
        if args.batching == "single":
            return np.concatenate([run([encoding]) for encoding in encodings])
        order = sorted(range(len(encodings)), key=lambda index: len(encodings[index].ids))
        vectors = [None] * len(encodings)
        for first in range(0, len(order), BATCH):
            chunk = order[first:first + BATCH]
            for index, vector in zip(chunk, run([encodings[index] for index in chunk])):
                vectors[index] = vector
        return np.stack(vectors)

    embed(texts[:8])
    start = time.perf_counter()
    embed(texts)
    seconds = time.perf_counter() - start
    latency = p50_ms(lambda: embed([SHORT_QUERY]))
    vectors = embed([text for text, _ in cases]).tolist()
    return {"seconds": seconds, "p50_ms": latency, "vectors": vectors,
            "note": f"onnxruntime {onnxruntime.__version__}, {THREADS} threads, all graph optimizations, "
                    f"{os.path.basename(args.onnx)}, loaded in {load_seconds:.1f} s"}


def worker_llamacpp(args, texts, cases):
    import llama_cpp

    # A non-causal encoder needs each whole sequence in one micro-batch: n_ubatch covers the longest input. The
    # context is the model's training length (n_ctx=0): 2,048 tokens for EmbeddingGemma, 512 for BERT.
    loading = time.perf_counter()
    llm = llama_cpp.Llama(model_path=args.gguf, embedding=True, n_threads=THREADS, n_threads_batch=THREADS,
                          n_ctx=0, n_batch=2048, n_ubatch=2048, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                          verbose=False)
    load_seconds = time.perf_counter() - loading
    # Truncated to max_seq_length as sentence-transformers does: the text's tokens are cut, the closing specials
    # (BERT's [SEP]) kept. Special tokens written in the text ("[SEP]") are read as such, as Hugging Face tokenizers
    # does. llm.embed tokenizes through llm.tokenize.
    limit = max_seq_length(args.model_dir)
    tokenize = llm.tokenize
    closing = tokenize(b"", add_bos=True, special=True)[1:]

    def truncated(text, add_bos=True, special=True):
        tokens = tokenize(text, add_bos=add_bos, special=special)
        return tokens if len(tokens) <= limit else tokens[:limit - len(closing)] + closing

    llm.tokenize = truncated
    tokens = sum(len(llm.tokenize(text.encode("utf-8"))) for text in texts)
    llm.embed(texts[:8])
    start = time.perf_counter()
    llm.embed(texts)
    seconds = time.perf_counter() - start
    latency = p50_ms(lambda: llm.embed([SHORT_QUERY]))
    vectors = llm.embed([text for text, _ in cases], normalize=True)
    return {"seconds": seconds, "p50_ms": latency, "vectors": vectors,
            "note": f"llama-cpp-python {llama_cpp.__version__}, {THREADS} threads, {llm.n_ctx():,}-token context, "
                    f"{os.path.basename(args.gguf)}, loaded in {load_seconds:.1f} s, "
                    f"{tokens} tokens as llama.cpp counts them"}


# ---- the ONNX models -------------------------------------------------------------------------------------------


def export_onnx(model_dir, path):
    """torch.onnx.export of the whole sentence-transformers model, as its modules define it (transformer, pooling,
    Dense layers, Normalize): ids and attention mask in, the final embedding out, so that ONNX Runtime's cosine
    compares like with like. Checked against sentence-transformers on a padded batch before it is kept."""
    import numpy as np
    import onnxruntime
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(THREADS)
    # Eager attention: its additive mask traces into plain tensor operations.
    model = SentenceTransformer(model_dir, device="cpu",
                                model_kwargs={"torch_dtype": torch.float32, "attn_implementation": "eager"}).eval()
    modules = list(model)

    def tokenize(batch):
        return model.tokenizer(batch, padding=True, truncation=True, max_length=model.max_seq_length,
                               return_tensors="pt")

    sample = tokenize(["a b c d e f", "g"])
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample]

    class Whole(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            features = dict(zip(names, inputs))
            encoder = modules[0].auto_model
            config = encoder.config
            if not getattr(config, "use_bidirectional_attention", False):
                return self.model(features)["sentence_embedding"]
            # EmbeddingGemma: transformers builds its bidirectional masks with vmap, which the tracer cannot
            # follow, so they are made here as the model defines them (full layers: every unpadded key; sliding
            # layers: keys closer than sliding_window too) and handed over ready, as the model accepts them.
            keep = features["attention_mask"][:, None, None, :].bool()
            lowest = torch.finfo(torch.float32).min
            position = torch.arange(features["input_ids"].shape[1])
            near = (position[:, None] - position[None, :]).abs() < config.sliding_window
            masks = {"full_attention": torch.where(keep, 0.0, lowest),
                     "sliding_attention": torch.where(keep & near[None, None], 0.0, lowest)}
            features["token_embeddings"] = encoder(input_ids=features["input_ids"],
                                                   attention_mask=masks).last_hidden_state
            for module in modules[1:]:
                features = module(features)
            return features["sentence_embedding"]

    partial = path + ".partial.onnx"
    with torch.inference_mode():
        torch.onnx.export(Whole(), tuple(sample[name] for name in names), partial, input_names=names,
                          output_names=["sentence_embedding"],
                          dynamic_axes={**{name: {0: "batch", 1: "sequence"} for name in names},
                                        "sentence_embedding": {0: "batch"}},
                          opset_version=17, dynamo=False)
    texts = ["The quick brown fox jumps over the lazy dog.", "hi", SHORT_QUERY + " " + "word " * 600]
    reference = model.encode(texts, normalize_embeddings=True)
    session = onnxruntime.InferenceSession(partial, providers=["CPUExecutionProvider"])
    features = tokenize(texts)
    exported = session.run(None, {name: features[name].numpy() for name in names})[0]
    agreement = float(min((exported * reference).sum(1) / np.linalg.norm(exported, axis=1)))
    if agreement < 0.9999:
        raise SystemExit(f"bench-peers: the ONNX export disagrees with sentence-transformers: cosine {agreement}")
    os.replace(partial, path)
    log(f"exported {path}: cosine {agreement:.6f} to sentence-transformers on a padded batch")


def prepare_onnx(args):
    """The ONNX files of the ort-* peers asked for, made once: the fp32 export, then onnxruntime's quantizers."""
    import inspect

    import onnx
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    wanted = [name for name in select_peers(args.only) if name in ONNX_FILES]
    os.makedirs(args.onnx_dir, exist_ok=True)
    fp32 = os.path.join(args.onnx_dir, ONNX_FILES["ort-fp32"])
    if wanted and not os.path.exists(fp32):
        log(f"exporting {args.model_dir} to {fp32} (torch.onnx.export, pooling, Dense layers and Normalize included)")
        export_onnx(args.model_dir, fp32)
    int8 = os.path.join(args.onnx_dir, ONNX_FILES["ort-int8"])
    if "ort-int8" in wanted and not os.path.exists(int8):
        log(f"quantizing to {int8} (quantize_dynamic, int8 weights per channel)")
        quantize_dynamic(fp32, int8 + ".partial.onnx", per_channel=True, weight_type=QuantType.QInt8)
        os.replace(int8 + ".partial.onnx", int8)
    nbits = os.path.join(args.onnx_dir, ONNX_FILES["ort-nbits8"])
    if "ort-nbits8" in wanted and not os.path.exists(nbits):
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

        if "bits" not in inspect.signature(MatMulNBitsQuantizer).parameters:
            raise SystemExit(f"bench-peers: onnxruntime {onnxruntime.__version__}'s MatMulNBitsQuantizer has no bits")
        log(f"quantizing to {nbits} (MatMulNBits, 8 bits, symmetric blocks of 32, accuracy level 4: int8 compute)")
        quantizer = MatMulNBitsQuantizer(onnx.load(fp32), bits=8, block_size=32, is_symmetric=True, accuracy_level=4)
        quantizer.process()
        quantizer.model.save_model_to_file(nbits + ".partial.onnx")
        os.replace(nbits + ".partial.onnx", nbits)


# ---- peers run from the driver --------------------------------------------------------------------------------


def is_gemma(model_dir):
    """Whether the model is EmbeddingGemma's architecture, the one bench-kernels' shapes and the GEMM targets are
    made for."""
    return json.load(open(os.path.join(model_dir, "config.json"), encoding="utf-8"))["model_type"] == "gemma3_text"


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


def run_label(name, dtype, setting=None):
    """A row's title: the peer, the weight dtype for this server's rows, how the corpus was fed when it was chosen."""
    return TITLES[name] + (f", {dtype}" if dtype else "") + (f", {setting}" if setting else "")


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
    smallest, median = cosines(vectors, cases)
    gemma = is_gemma(args.model_dir)
    return {"tokens_per_second": float(corpus.group(2)), "p50_ms": float(query.group(1)), "rss_mb": rss,
            "min_cosine": smallest, "median_cosine": median,
            "medium_tokens_per_second": medium_tokens_per_second(args, dtype) if gemma else None,
            "note": f"bench-encoder {dtype}, {THREADS} threads, packed batches of 4096 tokens"
                    + ("; medium texts: 32 × 128 tokens, --seconds 2" if gemma else "")}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(server, port, log_file, seconds=120):
    """Polls `/health` until it answers 200; raises with the server's log if it exits or `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/health")
            health = connection.getresponse()
            health.read()
            connection.close()
            if health.status == 200:
                return
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            log_file.seek(0)
            raise RuntimeError(f"embed-server did not come up:\n{log_file.read().decode(errors='replace')}")
        time.sleep(0.2)


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
        wait_until_healthy(server, port, log_file)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
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
        # In requests of 32 inputs at most: TEI's default --max-client-batch-size.
        golden = [text for text, _ in cases]
        vectors = [vector for first in range(0, len(golden), 32) for vector in post_embed(connection, golden[first:first + 32])]
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
    smallest, median = cosines(vectors, cases)
    return {"tokens_per_second": tokens / seconds, "p50_ms": latency, "rss_mb": usage.ru_maxrss / 1024,
            "min_cosine": smallest, "median_cosine": median,
            "note": f"embed-server serve {dtype}, {args.clients} clients, one text per request; "
                    f"p50 is one client's POST /embed round trip"}


def peer_python(args, name, corpus_file, tokens, cases):
    """A peer in Python: one child per setting; an ONNX Runtime peer runs one text at a time and in length-sorted
    batches, each in its own child, and the faster one is reported, with its own peak RSS, p50 and cosines."""
    command = [sys.executable, os.path.abspath(__file__), "--model-id", args.model_id, "--model-dir", args.model_dir,
               "--corpus", corpus_file]
    if name in ONNX_FILES:
        attempts = {batching: command + ["--worker", "ort", "--onnx", os.path.join(args.onnx_dir, ONNX_FILES[name]),
                                         "--batching", batching] for batching in BATCHINGS}
    elif name in GGUF_TYPES:
        attempts = {None: command + ["--worker", "llamacpp", "--gguf", f"{args.gguf_prefix}-{GGUF_TYPES[name]}.gguf"]}
    else:
        attempts = {None: command + ["--worker", name]}
    measured = {}
    for batching, attempt in attempts.items():
        output, rss = run_child(attempt)
        result = json.loads(output.strip().splitlines()[-1])
        smallest, median = cosines(result["vectors"], cases)
        measured[batching] = {"tokens_per_second": tokens / result["seconds"], "p50_ms": result["p50_ms"],
                              "rss_mb": rss, "min_cosine": smallest, "median_cosine": median, "note": result["note"]}
        if batching:
            log(f"{name}, {BATCHINGS[batching]}: {measured[batching]['tokens_per_second']:.0f} tokens/s")
    batching = max(measured, key=lambda key: measured[key]["tokens_per_second"])
    best = measured[batching]
    if batching:
        best["setting"] = BATCHINGS[batching]
        best["settings"] = {BATCHINGS[key]: round(value["tokens_per_second"], 1) for key, value in measured.items()}
        best["note"] += "; " + ", ".join(f"{BATCHINGS[key]} {value['tokens_per_second']:.0f} tokens/s"
                                         for key, value in measured.items())
    return best


def count_tokens(model_dir, texts):
    tokenizer, _ = load_tokenizer(model_dir)
    return sum(len(encoding.ids) for encoding in tokenizer.encode_batch(texts, add_special_tokens=True))


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


def cosine_reference(model_id, cases):
    kind = "prompt-free golden texts" if model_id == GEMMA else f"non-empty golden texts of {os.path.basename(GOLDEN[model_id])}"
    return f"sentence-transformers fp32, {len(cases)} {kind}"


def write_results(args, texts, tokens, cases, load_before, runs, results):
    """One JSON file per run: what docs/benchmarks.md's tables are made from (scripts/bench/bench-tables)."""
    def row(name, dtype):
        result = results[name, dtype]
        fields = {"peer": name, "dtype": dtype or PEER_DTYPES.get(name, "float32"),
                  "title": run_label(name, dtype, result.get("setting")),
                  "tokens_per_second": round(result["tokens_per_second"], 1),
                  "p50_ms": round(result["p50_ms"], 2), "rss_mb": round(result["rss_mb"]),
                  "min_cosine": round(result["min_cosine"], 6), "median_cosine": round(result["median_cosine"], 6)}
        if result.get("settings"):
            fields["setting"] = result["setting"]
            fields["tokens_per_second_by_setting"] = result["settings"]
        fields["note"] = result["note"]
        return fields

    record = {
        "schema": 1,
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "commit": git_commit(),
        "command": args.command,
        "model": args.model_id,
        "machine": machine_description(),
        "load_average_before": round(load_before, 1),
        "load_average_after": round(os.getloadavg()[0], 1),
        "corpus": {"texts": len(texts), "tokens": tokens},
        "http_clients": args.clients,
        "cosine_reference": cosine_reference(args.model_id, cases),
        "results": [row(name, dtype) for name, dtype in runs],
    }
    os.makedirs(args.results_dir, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", record["machine"]["label"].lower()).strip("-")
    model = "" if args.model_id == GEMMA else "-" + re.sub(r"[^a-z0-9]+", "-", args.model_id.split("/")[-1].lower())
    name = f"{time.strftime('%Y-%m-%dT%H%M', time.gmtime())}-{slug}{model}-{record['commit']}.json"
    path = os.path.join(args.results_dir, name)
    with open(path, "w") as file:
        json.dump(record, file, indent=1, ensure_ascii=False)
        file.write("\n")
    log(f"results written to {path}; scripts/bench/bench-tables makes docs/benchmarks.md's tables from them")


def select_peers(only):
    """--only's peers in its order, each once; a name may be a shell-style pattern ('ort-*')."""
    peers = []
    for pattern in (item.strip() for item in only.split(",")):
        matches = [name for name in PEERS if fnmatch.fnmatchcase(name, pattern)] if pattern else []
        if pattern and not matches:
            raise SystemExit(f"bench-peers: --only names {pattern!r}, which is no peer; known: {', '.join(PEERS)}")
        peers += [name for name in matches if name not in peers]
    return peers


def best_eight_bit(results, floor=0.999):
    """The fastest 8-bit peer of this run whose min cosine stays at `floor` or above, as (key, result)."""
    near = [((name, None), results[name, None]) for name in EIGHT_BIT
            if (name, None) in results and results[name, None]["min_cosine"] >= floor]
    return max(near, key=lambda item: item[1]["tokens_per_second"], default=(None, None))


def report_targets(args, dtypes, results, peaks):
    """The issues' targets and ratios, each from this run's figures only."""
    lines = []
    ratios = []

    def title(key):
        name, dtype = key
        return run_label(name, dtype, results[key].get("setting"))

    def ratio_target(over, under, target, label):
        if over in results and under in results:
            ratio = results[over]["tokens_per_second"] / results[under]["tokens_per_second"]
            shown = f"{ratio:.0%}" if target < 1 else f"{ratio:.2f}×"
            lines.append(f"- {label}: {shown} ({'met' if ratio >= target else 'not met'})")

    def ratio(over, under, label):
        if over in results and under in results:
            value = results[over]["tokens_per_second"] / results[under]["tokens_per_second"]
            ratios.append(f"- {label}: {value:.2f}× ({title(under)})")

    gemma = is_gemma(args.model_dir)
    eight_bit, _ = best_eight_bit(results)
    for dtype in dtypes:
        ours = ("ours", dtype)
        ratio_target(ours, ("pytorch", None), 4.0, f"offline {dtype} ≥ 4× PyTorch")
        if gemma:
            ratio_target(ours, ("llamacpp", None), 4.0, f"offline {dtype} ≥ 4× llama.cpp")
        else:
            # #32: all-MiniLM-L6-v2 at ≥ 4× sentence-transformers and ≥ 1.5× ONNX Runtime (the fp32 export).
            ratio_target(ours, ("ort-fp32", None), 1.5, f"offline {dtype} ≥ 1.5× ONNX Runtime fp32")
        ratio_target(("http", dtype), ours, 0.8, f"HTTP {dtype}, {args.clients} clients ≥ 80% of offline")
        # #31: fp32 against ONNX Runtime fp32; bf16 against ORT's dynamic int8 and the best 8-bit peer near the
        # reference.
        ratio(ours, ("ort-fp32", None), f"offline {dtype} / ONNX Runtime fp32")
        if dtype == "bfloat16":
            ratio(ours, ("ort-int8", None), f"offline {dtype} / ONNX Runtime dynamic int8")
            if eight_bit:
                ratio(ours, eight_bit, f"offline {dtype} / the fastest 8-bit peer at min cosine ≥ 0.999")
        if ours not in results:
            continue
        result = results[ours]
        if not gemma:
            floor = 0.99999 if dtype == "float32" else 0.9999
            lines.append(f"- {dtype} min cosine ≥ {floor} on the golden texts: {result['min_cosine']:.6f} "
                         f"({'met' if result['min_cosine'] >= floor else 'not met'})")
            continue
        gflops = result["medium_tokens_per_second"] * gemm_flops_per_token(args.model_dir) / 1e9
        share = gflops / peaks[dtype]
        lines.append(f"- {dtype} GEMMs on medium texts ≥ 60% of the measured GEMM peak: {gflops:.0f} "
                     f"of {peaks[dtype]:.0f} GFLOP/s, {share:.0%} ({'met' if share >= 0.6 else 'not met'})")
        # A short query reads every weight once, so its target follows the bytes: half the time with bf16 weights.
        limit = 15.0 if dtype == "float32" else 8.0
        lines.append(f"- one short query offline, p50 ≤ {limit:.0f} ms ({dtype}): {result['p50_ms']:.1f} ms "
                     f"({'met' if result['p50_ms'] <= limit else 'not met'})")
        if dtype == "bfloat16":
            met = result["min_cosine"] >= 0.9999 and result["rss_mb"] < 800
            lines.append(f"- bf16 min cosine ≥ 0.9999 with peak RSS < 800 MB: {result['min_cosine']:.6f}, "
                         f"{result['rss_mb']:.0f} MB ({'met' if met else 'not met'})")
    if lines:
        print()
        if gemma:
            print("Targets (medium-text GEMM rate counts only the layers' per-token GEMMs, "
                  f"{gemm_flops_per_token(args.model_dir) / 1e9:.3f} GFLOP per token; peak: best of "
                  "bench-kernels' model shapes at 512 and 2,048 rows):")
        else:
            print("Targets:")
        print("\n".join(lines))
        missed = sum(line.endswith("(not met)") for line in lines)
        print(f"{len(lines) - missed} of {len(lines)} targets met in this run.")
    if ratios:
        print()
        print("Ratios of tokens/s, this run (each peer at its faster setting):")
        print("\n".join(ratios))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-id", default=GEMMA, help="which golden embeddings the cosines are taken against")
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--corpus", required=True, help="JSON lines with a \"text\" field")
    parser.add_argument("--gguf-prefix", help="the GGUFs' path up to -f32.gguf, -bf16.gguf, -q8_0.gguf (llamacpp*)")
    parser.add_argument("--onnx-dir", help="directory of fp32.onnx, int8.onnx and nbits8.onnx (ort-*)")
    parser.add_argument("--bin", help="directory of the release embed-server and bench-encoder (for ours, http)")
    parser.add_argument("--only", default=",".join(PEERS),
                        help="comma-separated peers or shell-style patterns of them, run in this order")
    parser.add_argument("--dtype", default=",".join(DTYPES),
                        help="comma-separated weight dtypes of ours and http, each measured in turn")
    parser.add_argument("--texts", type=int, default=0, help="only the first N corpus texts (0: all)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument("--results-dir", help="also write the run's figures as a JSON file into this directory")
    parser.add_argument("--command", default="scripts/bench/bench-peers", help="the command line, for the result file")
    parser.add_argument("--prepare-onnx", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=("pytorch", "ort", "llamacpp"), help=argparse.SUPPRESS)
    parser.add_argument("--gguf", help=argparse.SUPPRESS)
    parser.add_argument("--onnx", help=argparse.SUPPRESS)
    parser.add_argument("--batching", choices=tuple(BATCHINGS), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.prepare_onnx:
        prepare_onnx(args)
        return
    texts = read_corpus(args.corpus, args.texts)
    cases = golden_cases(args.model_id)
    if args.worker:
        worker = {"pytorch": worker_pytorch, "ort": worker_ort, "llamacpp": worker_llamacpp}[args.worker]
        print(json.dumps(worker(args, texts, cases)), flush=True)
        return

    peers = select_peers(args.only)
    dtypes = [dtype.strip() for dtype in args.dtype.split(",") if dtype.strip()]
    if not dtypes or any(dtype not in DTYPES for dtype in dtypes):
        parser.error(f"--dtype takes {' or '.join(DTYPES)}, comma-separated")
    # Our rows come once per dtype, keyed (peer, dtype); the other peers' are keyed (peer, None).
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
        peaks = gemm_peaks(args) if "ours" in peers and is_gemma(args.model_dir) else {}
    finally:
        os.unlink(corpus_file)

    print(f"Model: {args.model_id}. Corpus: {len(texts)} texts, {tokens} tokens (model tokenizer, specials included, "
          f"cut at {max_seq_length(args.model_dir)}), no prompt applied by any peer. Short query: {SHORT_QUERY!r} "
          f"alone, p50 of {QUERY_RUNS} runs after a warm-up. Cosine: against {cosine_reference(args.model_id, cases)}.")
    # Other processes on the same cores slow every peer down: the load average says how quiet the run was.
    print(f"Machine: {machine_description()['label']}, {os.cpu_count()} CPUs; 1-minute load average "
          f"{load_before:.1f} before the run, {os.getloadavg()[0]:.1f} after.")
    print()
    print("| peer | tokens/s | p50 short query ms | peak RSS MB | min cosine | median cosine |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, dtype in runs:
        result = results[name, dtype]
        print(f"| {run_label(name, dtype, result.get('setting'))} | {result['tokens_per_second']:.0f} "
              f"| {result['p50_ms']:.1f} | {result['rss_mb']:.0f} | {result['min_cosine']:.6f} "
              f"| {result['median_cosine']:.6f} |")
    print()
    for name, dtype in runs:
        print(f"- {name}{f' {dtype}' if dtype else ''}: {results[name, dtype]['note']}")
    report_targets(args, dtypes, results, peaks)
    if args.results_dir:
        write_results(args, texts, tokens, cases, load_before, runs, results)


if __name__ == "__main__":
    main()
