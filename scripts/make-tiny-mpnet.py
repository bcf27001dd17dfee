"""Builds a tiny random MPNet sentence-transformers model and what sentence-transformers makes of a fixed text set.

Run from the repository root with the reference environment (torch, transformers, sentence-transformers, tokenizers):
    /work/venv-ref/bin/python scripts/make-tiny-mpnet.py

Writes Tests/EmbeddingModelTests/Fixtures/tiny-mpnet/ (MPNetModel with its pooler, 2 layers, 4 heads of 8, saved with
`save_pretrained` / `SentenceTransformer.save`; mean pooling, Normalize) and tiny-mpnet-expected.json: the texts, their
ids and embeddings, and transformers' relative position bucket of every distance in -300...300. Deterministic.

The tokenizer is transformers' own MPNetTokenizer (BertNormalizer, BertPreTokenizer, WordPiece, RobertaProcessing
`<s> A </s>`) over a WordPiece vocabulary counted from scripts/data/corpus.jsonl: characters, their `##` forms, the most
frequent words and a few suffixes. max_seq_length is 200, so the longest texts reach relative distances past the
buckets' 128.
"""

import collections
import json
import os
import shutil
import sys

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
from tiny_models import randomize, rounded
from tokenizers import Tokenizer, normalizers, pre_tokenizers
from transformers import MPNetConfig, MPNetModel, MPNetTokenizer
from transformers.models.mpnet.modeling_mpnet import MPNetEncoder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "scripts", "data")
FIXTURES = os.path.join(ROOT, "Tests", "EmbeddingModelTests", "Fixtures")
MODEL_DIR = os.path.join(FIXTURES, "tiny-mpnet")
EXPECTED = os.path.join(FIXTURES, "tiny-mpnet-expected.json")
HIDDEN = 32
MAX_SEQ_LENGTH = 200
WORDS = 220
# MPNet's layout: <pad> must be 1, the padding index MPNetEmbeddings fixes.
SPECIALS = ["<s>", "<pad>", "</s>", "[UNK]", "<mask>"]
SUFFIXES = ["##s", "##ed", "##ing", "##er", "##ly", "##tion"]


def corpus():
    return [json.loads(line)["text"] for line in open(os.path.join(DATA, "corpus.jsonl"), encoding="utf-8")]


def vocabulary(lines):
    """Specials, then every ASCII character the normalized corpus has (alone and as `##`), the most frequent words,
    a few suffixes: in a fixed order, so the ids never change."""
    normalizer = normalizers.BertNormalizer(lowercase=True)
    splitter = pre_tokenizers.BertPreTokenizer()
    words = collections.Counter()
    characters = set()
    for line in lines:
        for word, _ in splitter.pre_tokenize_str(normalizer.normalize_str(line)):
            words[word] += 1
            characters.update(c for c in word if c.isascii())
    characters = sorted(characters)
    frequent = [w for w, _ in sorted(words.items(), key=lambda item: (-item[1], item[0])) if len(w) > 1][:WORDS]
    vocab = SPECIALS + characters + ["##" + c for c in characters if c.isalnum()] + SUFFIXES + frequent
    return {piece: i for i, piece in enumerate(dict.fromkeys(vocab))}


def texts(lines):
    short = [
        "", "a", "Hello world!", "The quick brown fox jumps over the lazy dog.", "HELLO World, hello WORLD",
        "Crème brûlée à la carte, naïve café", "unbelievably misunderstood tokenization", "gcloud compute instances",
        "我爱北京", "Emoji 😀 and symbols ©®™", "<s> literal specials </s> <mask> <pad>", "text<mask>glued</s>here",
        "  leading and trailing  ", "tabs\tand\nnewlines\r\nmixed", "x" * 120, "1234567890 3.14159 -42 $100",
        "((([[[{{{<<<>>>}}}]]])))", "https://example.com/path?query=1&b=2#frag", "user@example.com",
        "don't won't can't it's", "Zażółć gęślą jaźń", "Привет, мир!",
    ]
    # Corpus lines of every length, then texts long enough that relative distances pass the buckets' 128, one of
    # them past max_seq_length (truncated).
    medium = [line for line in lines if 20 < len(line) < 400][:10]
    joined = " ".join(lines)
    long = [joined[:520], joined[1000:1500], joined[3000:5000], " ".join(["word"] * 150)]
    return short + medium + long


def main():
    lines = corpus()
    vocab = vocabulary(lines)
    work = MODEL_DIR + ".work"
    shutil.rmtree(work, ignore_errors=True)
    torch.manual_seed(3204)
    config = MPNetConfig(
        vocab_size=len(vocab), hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=MAX_SEQ_LENGTH + 2, layer_norm_eps=1e-5, hidden_act="gelu",
        relative_attention_num_buckets=32, pad_token_id=1, bos_token_id=0, eos_token_id=2)
    model = MPNetModel(config, add_pooling_layer=True)
    randomize(model.eval())
    with torch.no_grad():
        # Biases of a few units, as trained MPNets have: dropping one changes the attention far past the tolerances.
        bias = model.encoder.relative_attention_bias.weight
        bias.copy_(torch.randn_like(bias) * 2)
    model.save_pretrained(work)
    MPNetTokenizer(vocab=vocab, model_max_length=512).save_pretrained(work)

    modules = [Transformer(work, max_seq_length=MAX_SEQ_LENGTH), Pooling(HIDDEN, pooling_mode="mean"), Normalize()]
    SentenceTransformer(modules=modules, device="cpu").save(MODEL_DIR)
    shutil.rmtree(work)
    for extra in ("README.md", "special_tokens_map.json", "vocab.txt"):
        if os.path.exists(os.path.join(MODEL_DIR, extra)):
            os.remove(os.path.join(MODEL_DIR, extra))
    st = SentenceTransformer(MODEL_DIR, device="cpu")  # what was saved, not what is in memory

    tokenizer = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))
    post = json.loads(tokenizer.to_str())["post_processor"]
    assert post["type"] == "RobertaProcessing", post
    embedded = texts(lines)
    ids = [st.tokenize([t])["input_ids"][0].tolist() for t in embedded]
    for text, sequence in zip(embedded, ids):
        full = tokenizer.encode(text).ids
        assert sequence == full[:MAX_SEQ_LENGTH - 1] + full[-1:] if len(full) > MAX_SEQ_LENGTH else sequence == full, \
            f"sentence-transformers tokenizes {text!r} otherwise"
    lengths = sorted(len(i) for i in ids)
    assert lengths[-1] == MAX_SEQ_LENGTH and lengths[-2] > 128 + 10, lengths
    assert any(3 in i for i in ids), "no text reaches [UNK]"
    with torch.no_grad():
        vectors = st.encode(embedded, convert_to_numpy=True, normalize_embeddings=False)
    distances = torch.arange(-300, 301)
    expected = {
        "texts": embedded,
        "cases": [{"ids": i, "embedding": rounded(v.tolist())} for i, v in zip(ids, vectors)],
        "buckets": {"first": -300, "values": MPNetEncoder.relative_position_bucket(distances).tolist()},
    }
    with open(EXPECTED, "w", encoding="utf-8") as out:
        json.dump(expected, out, ensure_ascii=False, separators=(",", ":"))
        out.write("\n")
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(MODEL_DIR) for f in fs)
    print(f"{MODEL_DIR}: {size} bytes, {len(vocab)} pieces", file=sys.stderr)
    print(f"{EXPECTED}: {os.path.getsize(EXPECTED)} bytes, {len(embedded)} texts, lengths {lengths}", file=sys.stderr)


if __name__ == "__main__":
    main()
