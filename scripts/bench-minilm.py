"""all-MiniLM-L6-v2 on the bench corpus: the token ids bench-encoder reads, and the Python peers' speed.

Run from the repository root: /work/venv-ref/bin/python scripts/bench-minilm.py MODEL_DIR [--seconds S] [--threads 2]
1. Tokenizes scripts/data/corpus.jsonl with the model's tokenizer (truncated to max_seq_length 256, as
   sentence-transformers does) into .build/minilm-corpus-ids.jsonl, for
   `EMBED_MODEL_DIR=MODEL_DIR EMBED_BENCH_CORPUS_IDS=.build/minilm-corpus-ids.jsonl scripts/bench-encoder --corpus-only`.
2. Times sentence-transformers on PyTorch (fp32, `--threads` intra-op threads, batches of 32 texts) and ONNX Runtime
   (the BertModel exported with torch.onnx.export, all graph optimizations, the same threads; mean pooling and
   normalisation in NumPy) on the corpus: tokens/s counts the real (unpadded) tokens, as bench-encoder does. Then
   p50 of one short query alone.
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
QUERY = "what is the capital of france"


def timed(run, seconds):
    run()
    rounds, start = 0, time.perf_counter()
    while True:
        run()
        rounds += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / rounds


def p50(run, runs=50):
    for _ in range(5):
        run()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with open(os.path.join(ROOT, "scripts", "data", "corpus.jsonl"), encoding="utf-8") as lines:
        texts = [json.loads(line)["text"] for line in lines]
    model = SentenceTransformer(args.model, device="cpu")
    tokenizer = model.tokenizer
    ids = [tokenizer(text, truncation=True, max_length=model.max_seq_length)["input_ids"] for text in texts]
    tokens = sum(len(sequence) for sequence in ids)
    target = os.path.join(ROOT, ".build", "minilm-corpus-ids.jsonl")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "w") as out:
        for sequence in ids:
            out.write(json.dumps({"ids": sequence}) + "\n")
    query_ids = tokenizer(QUERY)["input_ids"]
    print(f"wrote {target}: {len(ids)} texts, {tokens} tokens; query ids {','.join(map(str, query_ids))}")

    with torch.inference_mode():
        seconds = timed(lambda: model.encode(texts, batch_size=32), args.seconds)
        print(f"sentence-transformers PyTorch {torch.__version__}, {args.threads} threads: {tokens / seconds:.0f} tokens/s")
        print(f"  query alone ({len(query_ids)} tokens): p50 {p50(lambda: model.encode([QUERY])):.2f} ms")

    import onnxruntime

    onnx_path = os.path.join(ROOT, ".build", "minilm.onnx")
    class Encoder(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    bert = Encoder(model[0].auto_model.eval())
    sample = tokenizer(["a b c", "d"], padding=True, return_tensors="pt")
    torch.onnx.export(
        bert, (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]), onnx_path,
        input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
        dynamic_axes={name: {0: "batch", 1: "sequence"} for name in
                      ["input_ids", "attention_mask", "token_type_ids", "last_hidden_state"]},
        opset_version=17, dynamo=False)
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])

    def embed(batch):
        features = tokenizer(batch, padding=True, truncation=True, max_length=model.max_seq_length, return_tensors="np")
        inputs = {name: features[name].astype(np.int64) for name in ["input_ids", "attention_mask", "token_type_ids"]}
        states = session.run(None, inputs)[0]
        mask = inputs["attention_mask"][..., None].astype(np.float32)
        pooled = (states * mask).sum(1) / mask.sum(1)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    reference = model.encode(texts[:8])
    agreement = float(min((embed(texts[:8]) * reference).sum(1)))
    seconds = timed(lambda: [embed(texts[i : i + 32]) for i in range(0, len(texts), 32)], args.seconds)
    print(f"ONNX Runtime {onnxruntime.__version__}, {args.threads} threads (min cosine to PyTorch {agreement:.6f}): "
          f"{tokens / seconds:.0f} tokens/s")
    print(f"  query alone: p50 {p50(lambda: embed([QUERY])):.2f} ms")


if __name__ == "__main__":
    sys.exit(main())
