"""Golden outputs of sentence-transformers/all-MiniLM-L6-v2 for the EmbeddingModel tests (Fixtures/minilm-golden.jsonl).

Run from the repository root: /work/venv-ref/bin/python scripts/make-bert-golden.py MODEL_DIR
(MODEL_DIR: the model's snapshot, e.g. from `scripts/fetch-model.sh sentence-transformers/all-MiniLM-L6-v2`).

One line per text: the text, its token ids as sentence-transformers feeds them (Hugging Face `tokenizers`, truncated
to max_seq_length 256), `raw` (the Pooling module's output, before Normalize) and `normalized` (the model's final
output), floats at 7 significant digits, which keeps cosine error far below the 1e-5 the tests allow (~1e-7).
Computed in fp32 on CPU, one text per forward pass (no padding in the batch).
"""

import json
import os
import random
import sys

import torch
from sentence_transformers import SentenceTransformer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TARGET = os.path.join(ROOT, "Tests", "EmbeddingModelTests", "Fixtures", "minilm-golden.jsonl")

ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "How do I reset my password?",
    "Embeddings map text to vectors so that similar meanings lie close together.",
    "what is the capital of france",
    "Swift is a general-purpose programming language developed by Apple.",
    "A man is eating food.",
    "A man is riding a white horse on an enclosed ground.",
    "Two dogs are playing in the snow, chasing a red ball.",
    "The stock market fell sharply on Tuesday after the central bank raised interest rates.",
    "Please find attached the invoice for March; payment is due within 30 days.",
    "I can't believe it's not butter!",
    "ERROR 404: page not found (https://example.com/a/b?c=d&e=f)",
    "def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)",
    "SELECT name, COUNT(*) FROM users GROUP BY name HAVING COUNT(*) > 1;",
    "The mitochondria is the powerhouse of the cell.",
    "Hello, world!",
    "UPPER CASE TEXT SHOULD BE LOWERCASED BY THE TOKENIZER",
    "numbers: 3.14159 2.71828 1,000,000 42 -7 1e-12",
    "e-mail: someone@example.org, phone +1 (555) 010-9999",
    "Don't stop believing; hold on to that feeling.",
]
ACCENTS = [
    "Crème brûlée à la française, s'il vous plaît.",
    "Müller's Straße führt über die Brücke nach Köln.",
    "¿Dónde está la biblioteca? Señor Núñez lo sabe.",
    "São Paulo é a maior cidade do Brasil.",
    "Ångström, Øresund, Æsir: nordic letters.",
    "naïve café résumé coöperate façade",
    "Zażółć gęślą jaźń — Polish pangram.",
    "Ελληνικά: η γρήγορη καφέ αλεπού.",
    "Русский текст: съешь же ещё этих мягких французских булок.",
    "Tiếng Việt có nhiều dấu thanh điệu.",
]
CJK = [
    "東京は日本の首都です。",
    "我喜欢吃北京烤鸭和小笼包。",
    "한국어 문장도 테스트합니다.",
    "中文、日本語、한국어 mixed with English words.",
    "机器学习是人工智能的一个分支。",
    "今日はいい天気ですね。散歩に行きましょう。",
    "「引用符」と（括弧）の扱い",
    "漢字かなカナ交じり文",
]
EMOJI = [
    "I love pizza 🍕🍕🍕!",
    "😀😃😄😁😆😅😂🤣",
    "Family: 👨‍👩‍👧‍👦 and flags 🇫🇷🇯🇵",
    "Thumbs up 👍🏽 for skin tones",
    "✨ sparkles ✨ and ❤️ hearts",
    "🙂",
]
CONTROL = [
    "",
    " ",
    "\t\n\r",
    "a",
    ".",
    "?!",
    "\u0000",
    "null\u0000byte",
    "bell\u0007 and escape\u001b[31m red",
    "zero\u200bwidth\u200cjoiners\u200d",
    "soft\u00adhyphen",
    "line one\nline two\r\nline three",
    "tab\tseparated\tvalues",
    "\ufeffbyte order mark",
    "replacement \ufffd char",
    "combining e\u0301 accent",
    "   leading and trailing spaces   ",
    "[CLS] [SEP] [MASK] [PAD] [UNK] special-looking tokens",
]


def long_text(rng, words):
    vocabulary = (
        "the of and to in is was for on that with as by at from this it an be are or which have has "
        "model server token embedding vector batch latency throughput kernel memory cache thread request response "
        "encoder attention layer norm weight bias activation sentence paragraph document query passage"
    ).split()
    return " ".join(rng.choice(vocabulary) for _ in range(words)) + "."


def texts():
    rng = random.Random(32)
    out = ENGLISH + ACCENTS + CJK + EMOJI + CONTROL
    corpus = os.path.join(ROOT, "scripts", "data", "corpus.jsonl")
    with open(corpus, encoding="utf-8") as lines:
        bench = [json.loads(line)["text"] for line in lines]
    out += rng.sample(bench, 120)
    # Over 256 tokens (truncated to 256) and over 512 (past the position table: still truncated to 256).
    out += [long_text(rng, n) for n in (200, 255, 300, 600, 1200)]
    out += [" ".join(bench[i : i + 12]) for i in range(0, 60, 12)]
    out += ["東京" * 300, "😀" * 400, "word " * 1000]
    # Mixed short pieces: random concatenations of the above categories.
    pool = ENGLISH + ACCENTS + CJK + EMOJI
    for _ in range(40):
        out.append(" ".join(rng.sample(pool, rng.randint(1, 4))))
    return out


def floats(values):
    return "[" + ",".join("%.7g" % v for v in values) + "]"


def main():
    torch.set_num_threads(2)
    model = SentenceTransformer(sys.argv[1], device="cpu")
    assert model.max_seq_length == 256, model.max_seq_length
    with open(TARGET, "w", encoding="utf-8") as out:
        for text in texts():
            features = model.tokenize([text])
            ids = features["input_ids"][0].tolist()
            with torch.no_grad():
                pooled = model[1](model[0](dict(features)))["sentence_embedding"][0]
                final = model.encode([text], convert_to_tensor=True)[0]
            assert torch.allclose(final, torch.nn.functional.normalize(pooled, dim=0), atol=1e-6)
            row = '{"text":%s,"ids":%s,"raw":%s,"normalized":%s}' % (
                json.dumps(text, ensure_ascii=False), json.dumps(ids, separators=(",", ":")),
                floats(pooled.tolist()), floats(final.tolist()))
            out.write(row + "\n")
    print(f"{TARGET}: {os.path.getsize(TARGET)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
