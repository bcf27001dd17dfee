"""Builds the tiny random EmbeddingGemma-shaped model and the expected outputs the Swift parity tests read.

Run with the project's Python reference environment (torch, transformers, sentence-transformers):
    /work/venv/bin/python scripts/make-tiny-model.py
Writes Tests/Fixtures/tiny-model/ (a complete sentence-transformers directory, shared by the test targets) and
Tests/EmbeddingModelTests/Fixtures/tiny-expected.json, then runs scripts/make-api-tiny-tokenizer.py, whose BPE
tokenizer replaces the word-level one written here. Deterministic: the same seed gives the same files.

The model has the real one's structure at toy size: 3 query heads sharing 1 key/value head, both layer types,
q/k norms, sandwich norms, GELU-tanh MLP, mean pooling, Dense up then down. The sliding window (config 8, so
|i - j| <= 4 after transformers' bidirectional rewrite) is short enough that the longer test sequences cross it,
and query_pre_attn_scalar differs from head_dim so a port that scales by head_dim fails.
"""

import json
import os
import shutil
import subprocess
import sys

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Pooling, Transformer
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import Gemma3TextConfig, Gemma3TextModel, PreTrainedTokenizerFast

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.path.join(SCRIPTS, "..", "Tests", "Fixtures", "tiny-model")
EXPECTED = os.path.join(SCRIPTS, "..", "Tests", "EmbeddingModelTests", "Fixtures", "tiny-expected.json")

VOCAB = 256
HIDDEN = 48
DENSE = 192

# Several lengths: a lone token, BOS+EOS, short, just over the window, several windows, and one with id 255.
SEQUENCES = [
    [2],
    [2, 1],
    [2, 17, 33, 200, 1],
    [2, 5, 9, 14, 77, 91, 130, 64, 1],
    [2] + [(7 * i + 3) % 250 + 4 for i in range(21)] + [1],
    [2] + [(13 * i + 11) % 250 + 4 for i in range(38)] + [255, 1],
]


def build_transformer(work_dir):
    torch.manual_seed(20251123)
    config = Gemma3TextConfig(
        vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=64, num_hidden_layers=4,
        num_attention_heads=3, num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=24,
        sliding_window=8, use_bidirectional_attention=True,
        layer_types=["sliding_attention", "full_attention", "sliding_attention", "sliding_attention"],
        max_position_embeddings=64, rope_theta=1e6, rope_local_base_freq=1e4, rms_norm_eps=1e-6,
        hidden_activation="gelu_pytorch_tanh", pad_token_id=0, bos_token_id=2, eos_token_id=1,
    )
    model = Gemma3TextModel(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.dim() == 1:
                # Norm weights are offsets from 1: random ones make a (w) vs (1 + w) mix-up visible.
                parameter.copy_(torch.randn_like(parameter) * 0.5)
            elif name == "embed_tokens.weight":
                parameter.copy_(torch.randn_like(parameter))
            else:
                parameter.copy_(torch.randn_like(parameter) / parameter.shape[1] ** 0.5)
    model.save_pretrained(work_dir)

    # A word-level tokenizer with Gemma's special-token ids, only so the directory loads in sentence-transformers;
    # the Swift tests feed ids directly.
    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3}
    vocab.update({f"t{i}": i for i in range(4, VOCAB)})
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>",
                            unk_token="<unk>").save_pretrained(work_dir)


def main():
    work_dir = MODEL_DIR + ".work"
    shutil.rmtree(work_dir, ignore_errors=True)
    build_transformer(work_dir)

    torch.manual_seed(7)
    transformer = Transformer(work_dir, max_seq_length=64)
    pooling = Pooling(HIDDEN, pooling_mode="mean", include_prompt=True)
    dense_up = Dense(HIDDEN, DENSE, bias=False, activation_function=torch.nn.Identity())
    dense_down = Dense(DENSE, HIDDEN, bias=False, activation_function=torch.nn.Identity())
    st = SentenceTransformer(
        modules=[transformer, pooling, dense_up, dense_down, Normalize()],
        prompts={"query": "task: search result | query: ", "document": "title: none | text: "},
        default_prompt_name="query", similarity_fn_name="cosine", device="cpu",
    )
    shutil.rmtree(MODEL_DIR, ignore_errors=True)
    st.save(MODEL_DIR)
    shutil.rmtree(work_dir)
    os.remove(os.path.join(MODEL_DIR, "README.md"))  # a generated model card, kilobytes the tests never read
    st = SentenceTransformer(MODEL_DIR, device="cpu")  # check what was saved, not what is in memory

    cases = []
    with torch.no_grad():
        for ids in SEQUENCES:
            features = {"input_ids": torch.tensor([ids]), "attention_mask": torch.ones(1, len(ids), dtype=torch.long)}
            for index, module in enumerate(st):
                features = module(features)
                if index == 3:
                    raw = features["sentence_embedding"][0].tolist()
            cases.append({
                "ids": ids,
                "raw": raw,
                "normalized": features["sentence_embedding"][0].tolist(),
                "hidden": features["token_embeddings"][0].flatten().tolist(),
            })
        # The same sequences as one right-padded batch, the way sentence-transformers runs them.
        width = max(len(ids) for ids in SEQUENCES)
        batch = {
            "input_ids": torch.tensor([ids + [0] * (width - len(ids)) for ids in SEQUENCES]),
            "attention_mask": torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in SEQUENCES]),
        }
        batched = st(batch)["sentence_embedding"]
        agreement = min(float(torch.nn.functional.cosine_similarity(batched[i], torch.tensor(c["normalized"]), dim=0))
                        for i, c in enumerate(cases))
    print(f"padded batch vs one at a time: min cosine {agreement:.9f}", file=sys.stderr)

    with open(EXPECTED, "w") as out:
        json.dump({"model": "tiny-model", "cases": cases}, out, separators=(",", ":"))
        out.write("\n")
    model_bytes = sum(os.path.getsize(os.path.join(dirpath, name))
                      for dirpath, _, names in os.walk(MODEL_DIR) for name in names)
    print(f"wrote {MODEL_DIR} ({model_bytes} bytes) and {EXPECTED} ({os.path.getsize(EXPECTED)} bytes)",
          file=sys.stderr)
    # The text routes and the library need a real tokenizer over the same 256 ids.
    subprocess.run([sys.executable, os.path.join(SCRIPTS, "make-api-tiny-tokenizer.py")], check=True)


if __name__ == "__main__":
    main()
