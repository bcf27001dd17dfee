"""Builds the SentencePiece Unigram fixtures: a tiny XLM-RoBERTa sentence-transformers model with a real tokenizer,
tokenizer.json variants, and what Hugging Face `tokenizers` and sentence-transformers make of a fixed text set.

Run from the repository root with the reference environment (torch, transformers, sentence-transformers, tokenizers,
sentencepiece, protobuf):
    /work/venv-ref/bin/python scripts/make-tiny-xlmr.py

1. Trains SentencePiece Unigram models (one thread, so deterministic) on scripts/data/corpus.jsonl and
   scripts/data/multilingual.txt: the main one with `nmt_nfkc` normalization (XLM-R's: the Precompiled charsmap is
   SentencePiece's real NFKC double-array trie), a byte-fallback one and a small one normalized by a handful of
   hand-written rules (a small but real charsmap for the variants, so the fixtures stay small).
2. Converts them as transformers does: `XLMRobertaConverter` (Precompiled, Strip, Replace of the regex ` {2,}`,
   Metaspace, `<s> $A </s>` template), `SpmConverter.build_tokenizer_from_spm_proto` (byte fallback: Replace " " by
   "▁", Replace + ByteFallback + Fuse decoder, no pre-tokenizer), transformers 5's own `XLMRobertaTokenizer`
   (WhitespaceSplit + Metaspace), and the Hub's xlm-roberta-base layout (Replace ` {2,}` by " ", no Strip) with
   Metaspace `prepend_scheme` first and `split` false.
3. Writes Tests/EmbeddingModelTests/Fixtures/tiny-xlmr/ (XLMRobertaModel, mean pooling, Normalize, saved with
   `save_pretrained` / `SentenceTransformer.save`) with tiny-xlmr-expected.json (ids and embeddings of texts), and
   Tests/TokenizersTests/Fixtures/unigram-*.json with unigram-cases.jsonl (ids, type ids, tokens, offsets, decode).
"""

import base64
import json
import os
import random
import shutil
import sys
import tempfile

import sentencepiece as spm
import torch
from tiny_models import randomize
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
from sentencepiece import sentencepiece_model_pb2 as model_pb2
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizer
from transformers.convert_slow_tokenizer import SpmConverter, XLMRobertaConverter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "scripts", "data")
MODEL_DIR = os.path.join(ROOT, "Tests", "EmbeddingModelTests", "Fixtures", "tiny-xlmr")
EXPECTED = os.path.join(ROOT, "Tests", "EmbeddingModelTests", "Fixtures", "tiny-xlmr-expected.json")
TOKENIZER_FIXTURES = os.path.join(ROOT, "Tests", "TokenizersTests", "Fixtures")
FUZZ_SEEDS = os.path.join(ROOT, "fuzz", "corpus", "tokenizer-json")
CASES = os.path.join(TOKENIZER_FIXTURES, "unigram-cases.jsonl")
HIDDEN = 16
MAX_SEQ_LENGTH = 64

# A few NFKC rules, as SentencePiece's TSV format writes them (source and target code points): enough for a charsmap
# that maps, removes, expands and composes, with multi-scalar sources (a grapheme of two scalars, CR LF).
SMALL_RULES = [
    ("FF21", "41"), ("FF22", "42"), ("FF41", "61"), ("FF11", "31"), ("3000", "20"), ("A0", "20"),
    ("FB01", "66 69"), ("FB00", "66 66"), ("FB03", "66 66 69"), ("2460", "31"), ("338F", "6B 67"),
    ("65 301", "E9"), ("41 30A", "C5"), ("FF76", "30AB"), ("FF76 FF9E", "30AC"), ("FF9E", "3099"),
    ("D", "20"), ("D A", "A"), ("9", "20"), ("200B", ""), ("AD", ""), ("1F1EB 1F1F7", "46 52"),
    ("2126", "3A9"), ("212B", "C5"), ("1D400", "41"),
]


def corpus_lines():
    lines = [json.loads(line)["text"] for line in open(os.path.join(DATA, "corpus.jsonl"), encoding="utf-8")]
    multilingual = open(os.path.join(DATA, "multilingual.txt"), encoding="utf-8").read().splitlines()
    return lines + multilingual * 4


def train(work, name, vocab_size, **options):
    prefix = os.path.join(work, name)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus_lines()), model_prefix=prefix, model_type="unigram", vocab_size=vocab_size,
        num_threads=1, hard_vocab_limit=False, minloglevel=2, **options)
    proto = model_pb2.ModelProto()
    with open(prefix + ".model", "rb") as f:
        proto.ParseFromString(f.read())
    return prefix + ".model", proto


class Original:
    """What the converters read from a slow tokenizer: the .model path and the special tokens' ids."""

    def __init__(self, path, vocab):
        self.vocab_file = path
        self.add_prefix_space = True
        self.ids = {token: i for i, (token, _) in enumerate(vocab)}

    def convert_tokens_to_ids(self, token):
        return self.ids[token]


def xlmr_converted(path, proto):
    converter = XLMRobertaConverter.__new__(XLMRobertaConverter)
    converter.original_tokenizer = Original(path, XLMRobertaConverter.vocab(None, proto))
    converter.proto = proto
    return converter.converted()


def with_specials(tokenizer, vocab):
    # As XLMRobertaTokenizer adds them: the five specials are special added tokens of the vocab's ids.
    from tokenizers import AddedToken
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in
                                  ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]])
    return tokenizer


def texts(rng):
    fixed = [
        "", " ", "   ", "\t\n\r ", "\u3000\u00a0\u2009", "\u200b", "\x00\x01\x7f", "a", "Hello world!",
        "Hello  world   again    and\tagain", "  leading and trailing  ", "The quick brown fox jumps over the lazy dog.",
        "Le renard brun rapide saute par-dessus le chien paresseux.", "Crème brûlée à la carte, naïve café",
        "e\u0301 A\u030a combining marks e\u0301\u0301", "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319",
        "ﬁne ﬂowers ﬀ ﬃ ligatures", "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３", "ｶﾀｶﾅ ｶﾞｷﾞ ﾊﾟ half-width", "① ② ㎏ ㎞ ½ ¼ ¾ x² H₂O",
        "Ω Å K Ω Å K (U+2126 U+212B U+212A)", "𝐁𝐨𝐥𝐝 𝔉𝔯𝔞𝔨𝔱𝔲𝔯", "我爱北京天安门", "今天天气很好，我们去公园散步吧。",
        "日本語のテキストです。カタカナとひらがな", "한국어 텍스트입니다 안녕하세요", "Hangul 한 vs \u1112\u1161\u11ab",
        "中文English混合text123数字", "𠀀𠀁 CJK extension B 𪜀", "Emoji 😀😃 👍🏽 👨‍👩‍👧‍👦 🇫🇷🇯🇵 ❤️ 🫠",
        "Arabic: مرحبا بالعالم", "Hebrew: שלום עולם", "Devanagari: नमस्ते दुनिया क्षत्रिय", "Thai: สวัสดีชาวโลก",
        "Russian: Привет, мир! Ёж ёлка", "Greek: Γειά σου Κόσμε", "Vietnamese: Tiếng Việt có dấu",
        "Turkish İstanbul ılık", "Polish: Zażółć gęślą jaźń", "https://example.com/path?query=1&b=2#frag",
        "user@example.com $100 50% 3.14159 1,000,000 -42", "((([[[{{{<<<>>>}}}]]])))", "...!!!???---___***",
        "¿Qué? ¡Sí! «quotes» „German“ ‘single’", "—–‐ dashes … ellipsis • bullet", "€100 £50 ¥1000 ₹20 ₿",
        "<s> literal specials </s> <mask> <pad> <unk>", "text<mask>glued</s>here", "▁already▁has▁metaspace ▁",
        "line one\r\nline two\rline three\nend", "tabs\tand\nnewlines mixed \x0b\x0c here", "\x85next\u2028\u2029",
        "soft\u00adhyphen zero\u200bwidth bidi\u202etext\u202c", "private use \ue000 \U000f0000",
        "replacement \ufffd char", "supercalifragilisticexpialidocious" * 3, "a" * 80, "é" * 50 + "x",
        "word " * 40, "ＡＢ\r\nﬁ\u200b", "\u200bstart removed", "ends removed\u200b", "ﬁ", "ﬁx ﬁ",
        "㎏\u0308x ﬁ\u0301x Ａ\u0301x e\u0301\u0301x ﬃ\u200b\u200byz", "\u0600a \u0915\u094d\u0937 \u1100\u1161\u11a8",
        "\U0001F1EB\U0001F1F7\U0001F1EB 👨\u200d👩 \u00a9\u200d\u00ae ❤\ufe0f", "\u200b\u200bxy ｶﾞ ｶﾟ",
    ]
    corpus = [json.loads(line)["text"] for line in open(os.path.join(DATA, "corpus.jsonl"), encoding="utf-8")]
    multilingual = open(os.path.join(DATA, "multilingual.txt"), encoding="utf-8").read().splitlines()
    singles = fixed + corpus[:4] + multilingual[::4]
    alphabet = sorted(set("".join(fixed)))
    singles += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(12)]
    pairs = [("What is the capital of France?", "Paris is the capital of France."), ("", ""), ("query", ""),
             ("", "document"), ("  spaced  ", " pair  text ")]
    pairs += [(rng.choice(singles), rng.choice(singles)) for _ in range(6)]
    return singles, pairs


def case(name, tokenizer, text, pair):
    e = tokenizer.encode(text, pair) if pair is not None else tokenizer.encode(text)
    plain = tokenizer.encode(text, pair, add_special_tokens=False) if pair is not None else \
        tokenizer.encode(text, add_special_tokens=False)
    row = {"fixture": name, "text": text}
    if pair is not None:
        row["pair"] = pair
    row.update({"ids": e.ids, "type_ids": e.type_ids, "tokens": e.tokens if len(e.ids) <= 40 else None,
                "offsets": [x for o in e.offsets for x in o], "ids_no_special": plain.ids,
                "decoded": tokenizer.decode(e.ids, skip_special_tokens=True),
                "decoded_special": tokenizer.decode(e.ids, skip_special_tokens=False)})
    return row


def write_fuzz_seeds(variants):
    """Seeds for `scripts/fuzz tokenizer-json` (inputs of at most 8 KB): each variant with a cut vocab (the specials,
    the bytes, the first pieces), one with Strip in its normalizers, some followed by a NUL and a text."""
    for name, pieces, text in [("unigram-hub.json", 120, None), ("unigram-v5.json", 100, "  Ｆｕｌｌ ﬁne ｶﾞ x\r\ny  "),
                               ("unigram-bytefallback.json", 60, "héllo 😀 wörld")]:
        data = json.loads(variants[name].to_str())
        vocab = data["model"]["vocab"]
        keep = [p for p in vocab if p[0].startswith("<")] + [p for p in vocab if not p[0].startswith("<")][:pieces]
        data["model"]["vocab"] = keep
        ids = {p[0]: i for i, p in enumerate(keep)}
        data["model"]["unk_id"] = ids["<unk>"]
        data["added_tokens"] = [dict(t, id=ids[t["content"]]) for t in data["added_tokens"] if t["content"] in ids]
        if data.get("post_processor"):
            for token in data["post_processor"]["special_tokens"].values():
                token["ids"] = [ids[t] for t in token["tokens"]]
        if name == "unigram-v5.json":
            data["normalizer"] = {"type": "Sequence", "normalizers": [
                data["normalizer"], {"type": "Strip", "strip_left": True, "strip_right": True}]}
        seed = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        if text is not None:
            seed += b"\0" + text.encode()
        assert len(seed) <= 8192, f"{name}: a {len(seed)}-byte seed is over the fuzzer's -max_len"
        with open(os.path.join(FUZZ_SEEDS, name.replace(".json", "-seed")), "wb") as f:
            f.write(seed)


def build_model(tokenizer_json, vocab_size):
    work = MODEL_DIR + ".work"
    shutil.rmtree(work, ignore_errors=True)
    torch.manual_seed(3203)
    config = XLMRobertaConfig(
        vocab_size=vocab_size, hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=4, intermediate_size=32,
        max_position_embeddings=MAX_SEQ_LENGTH + 2, type_vocab_size=1, layer_norm_eps=1e-5, hidden_act="gelu",
        pad_token_id=1, bos_token_id=0, eos_token_id=2)
    model = XLMRobertaModel(config, add_pooling_layer=False)
    randomize(model.eval())
    model.save_pretrained(work)
    hf = XLMRobertaTokenizer(tokenizer_object=Tokenizer.from_str(tokenizer_json), model_max_length=MAX_SEQ_LENGTH)
    hf.save_pretrained(work)
    modules = [Transformer(work, max_seq_length=MAX_SEQ_LENGTH), Pooling(HIDDEN, pooling_mode="mean"), Normalize()]
    st = SentenceTransformer(modules=modules, device="cpu")
    shutil.rmtree(MODEL_DIR, ignore_errors=True)
    st.save(MODEL_DIR)
    shutil.rmtree(work)
    os.remove(os.path.join(MODEL_DIR, "README.md"))
    for extra in ("sentencepiece.bpe.model", "special_tokens_map.json"):
        if os.path.exists(os.path.join(MODEL_DIR, extra)):
            os.remove(os.path.join(MODEL_DIR, extra))
    with open(os.path.join(MODEL_DIR, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(tokenizer_json)
    return SentenceTransformer(MODEL_DIR, device="cpu")


def rounded(values):
    return [float("%.9g" % v) for v in values]


def main():
    work = tempfile.mkdtemp()
    main_path, main_proto = train(work, "main", 600, normalization_rule_name="nmt_nfkc", character_coverage=0.995)
    rules = os.path.join(work, "rules.tsv")
    with open(rules, "w") as f:
        f.writelines(f"{source}\t{target}\n" for source, target in SMALL_RULES)
    small_path, small_proto = train(work, "small", 500, normalization_rule_tsv=rules, character_coverage=0.98)
    fallback_path, fallback_proto = train(work, "fallback", 600, normalization_rule_tsv=rules, byte_fallback=True,
                                             character_coverage=0.98)
    assert main_proto.normalizer_spec.precompiled_charsmap and small_proto.normalizer_spec.precompiled_charsmap

    # The model's tokenizer: XLMRobertaConverter's layout with the real NFKC charsmap.
    main = with_specials(xlmr_converted(main_path, main_proto), None)
    main_json = main.to_str()

    small = with_specials(xlmr_converted(small_path, small_proto), None)
    small_json = json.loads(small.to_str())
    charsmap = small_json["normalizer"]["normalizers"][0]
    # The Hub's xlm-roberta-base: Precompiled, then runs of spaces become one space; Metaspace "first", unsplit.
    hub = json.loads(json.dumps(small_json))
    hub["normalizer"] = {"type": "Sequence", "normalizers": [
        charsmap, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
    hub["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False}
    hub["decoder"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False}
    # transformers 5's XLMRobertaTokenizer: Precompiled alone, WhitespaceSplit then Metaspace.
    vocab = [tuple(item) for item in small_json["model"]["vocab"]]
    v5 = XLMRobertaTokenizer(vocab=vocab, _spm_precompiled_charsmap=base64.b64decode(charsmap["precompiled_charsmap"]))
    # A byte-fallback SentencePiece model as transformers converts one without a model class.
    fallback = SpmConverter.build_tokenizer_from_spm_proto(
        fallback_proto, [(p.piece, p.score) for p in fallback_proto.pieces])

    variants = {
        "unigram-hub.json": Tokenizer.from_str(json.dumps(hub, ensure_ascii=False)),
        "unigram-v5.json": v5._tokenizer,
        "unigram-bytefallback.json": fallback,
    }
    for name, tokenizer in variants.items():
        tokenizer.save(os.path.join(TOKENIZER_FIXTURES, name))
        variants[name] = Tokenizer.from_file(os.path.join(TOKENIZER_FIXTURES, name))

    write_fuzz_seeds(variants)
    rng = random.Random(32)
    singles, pairs = texts(rng)
    main_tokenizer = Tokenizer.from_str(main_json)
    rows = [case("tiny-xlmr", main_tokenizer, t, None) for t in singles]
    rows += [case("tiny-xlmr", main_tokenizer, a, b) for a, b in pairs]
    for name, tokenizer in variants.items():
        rows += [case(name, tokenizer, t, None) for t in singles[::3]]
        rows += [case(name, tokenizer, a, b) for a, b in pairs[:3]]
    assert any(3 in r["ids"] for r in rows if r["fixture"] == "tiny-xlmr"), "no text reaches <unk>"
    with open(CASES, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")

    st = build_model(main_json, main.get_vocab_size())
    embedded = singles[8:40] + ["", "  ", "word " * 80]
    ids = [st.tokenize([t])["input_ids"][0].tolist() for t in embedded]
    for text, sequence in zip(embedded, ids):
        expected = main_tokenizer.encode(text).ids[:MAX_SEQ_LENGTH - 1]
        assert sequence[:-1] == expected[:len(sequence) - 1], f"sentence-transformers tokenizes {text!r} otherwise"
    with torch.no_grad():
        vectors = st.encode(embedded, convert_to_numpy=True, normalize_embeddings=False)
    expected = {"texts": embedded, "cases": [{"ids": i, "embedding": rounded(v.tolist())}
                                             for i, v in zip(ids, vectors)]}
    with open(EXPECTED, "w", encoding="utf-8") as out:
        json.dump(expected, out, ensure_ascii=False, separators=(",", ":"))
        out.write("\n")
    shutil.rmtree(work)
    for path in [MODEL_DIR, EXPECTED, CASES] + [os.path.join(TOKENIZER_FIXTURES, n) for n in variants]:
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs) \
            if os.path.isdir(path) else os.path.getsize(path)
        print(f"{os.path.relpath(path, ROOT)}: {size} bytes", file=sys.stderr)
    print(f"{len(rows)} tokenizer cases, {len(embedded)} embedded texts", file=sys.stderr)


if __name__ == "__main__":
    main()
