#!/usr/bin/env python3
"""Writes the tiny hand-made tokenizer.json fixtures and what the Python `tokenizers` library makes of some texts
with each, for the Swift unit tests (Tests/TokenizersTests/Fixtures/tiny-*.json and tiny-cases.jsonl).

    /work/venv/bin/python scripts/gen-tiny-tokenizer-cases.py

Fixtures:
- tiny-tokenizer.json: Gemma's shape (Replace normalizer, Split pre-tokenizer, BPE with byte fallback and fused
  <unk>, TemplateProcessing, Replace/ByteFallback/Fuse/Strip decoder) plus lstrip / rstrip / single_word /
  normalized added tokens;
- tiny-metaspace.json: Metaspace pre-tokenizer and decoder (prepend_scheme "always", split), BertProcessing;
- tiny-first.json: Metaspace with prepend_scheme "first" and no split, after a Sequence normalizer with Prepend;
- tiny-wordpiece-style.json: BPE with continuing_subword_prefix "##", ignore_merges, unfused <unk>, and a Sequence
  of Split pre-tokenizers (Removed, Contiguous, MergedWithNext, inverted Isolated), no post-processor or decoder;
- tiny-wordpiece-nfd.json: WordPiece (max_input_chars_per_word 8) after a Sequence of NFD, StripAccents and
  Lowercase normalizers, Whitespace pre-tokenizer, BertProcessing, WordPiece decoder without cleanup;
- tiny-wordpiece-roberta.json: WordPiece with prefix "@@" after BertNormalizer (no Chinese chars, accents kept),
  WhitespaceSplit, RobertaProcessing (trim_offsets), WordPiece decoder with cleanup;
- tiny-wordpiece-template.json: BertNormalizer keeping case (so strip_accents null keeps accents), BertPreTokenizer,
  a TemplateProcessing whose pair template puts $B first with type ids 0, 1 and 2, an lstrip [MASK] added token.
- tiny-bytelevel-roberta.json: byte-level BPE trained here on BYTE_LEVEL_TRAINING (ByteLevel pre-tokenizer with
  add_prefix_space, ByteLevel decoder, RobertaProcessing with trim_offsets, lstrip <mask>);
- tiny-bytelevel-gpt2.json: the same model, GPT-2 style: no prefix space, ByteLevel post-processor.
Each line of tiny-cases.jsonl: {"fixture", "text", "pair" (only for pairs), "ids", "type_ids", "tokens", "offsets"
(flat), "decoded", "decoded_special"}.
"""
import json
import os
import random

from tokenizers import Tokenizer

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Tests", "TokenizersTests", "Fixtures")


def added(id, content, special, lstrip=False, rstrip=False, single_word=False, normalized=False):
    return {"id": id, "content": content, "single_word": single_word, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": normalized, "special": special}


def bpe(vocab, merges, **options):
    model = {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
             "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": False, "ignore_merges": False,
             "vocab": vocab, "merges": merges}
    model.update(options)
    return model


def template(bos, eos):
    return {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": eos, "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos: {"id": bos, "ids": [1], "tokens": [bos]}, eos: {"id": eos, "ids": [2], "tokens": [eos]}}}


def tokenizer_json(model, added_tokens, normalizer=None, pre_tokenizer=None, post_processor=None, decoder=None):
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added_tokens,
            "normalizer": normalizer, "pre_tokenizer": pre_tokenizer, "post_processor": post_processor,
            "decoder": decoder, "model": model}


GEMMA_VOCAB = {"<unk>": 0, "<s>": 1, "</s>": 2, "<0xE2>": 3, "<0x82>": 4, "<0xAC>": 5, "<0xC3>": 6, "<0xA9>": 7,
               "▁": 8, "a": 9, "b": 10, "d": 11, "e": 12, "h": 13, "l": 14, "o": 15, "r": 16, "w": 17,
               "he": 18, "ll": 19, "hell": 20, "hello": 21, "▁w": 22, "or": 23, "▁wor": 24, "ld": 25, "▁world": 26,
               "▁▁": 27, "▁▁▁▁": 28, "[MASK]": 29, "<sep>": 30}
GEMMA_MERGES = [["h", "e"], ["l", "l"], ["he", "ll"], ["hell", "o"], ["▁", "w"], ["o", "r"], ["▁w", "or"], ["l", "d"],
                ["▁wor", "ld"], ["▁", "▁"], ["▁▁", "▁▁"]]
GEMMA_DECODER = {"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
    {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}

FIXTURE_FILES = {
    "tiny-tokenizer.json": tokenizer_json(
        bpe(GEMMA_VOCAB, GEMMA_MERGES, byte_fallback=True),
        [added(0, "<unk>", True), added(1, "<s>", True), added(2, "</s>", True),
         added(29, "[MASK]", True, lstrip=True), added(30, "<sep>", False, rstrip=True),
         added(31, "word", False, single_word=True), added(32, "ab", False, normalized=True)],
        normalizer={"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
        pre_tokenizer={"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": False},
        post_processor=template("<s>", "</s>"),
        decoder=GEMMA_DECODER),
    "tiny-metaspace.json": tokenizer_json(
        bpe(GEMMA_VOCAB, GEMMA_MERGES, byte_fallback=True),
        [added(0, "<unk>", True), added(1, "<s>", True), added(2, "</s>", True)],
        pre_tokenizer={"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
        post_processor={"type": "BertProcessing", "sep": ["</s>", 2], "cls": ["<s>", 1]},
        decoder={"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Metaspace", "replacement": "▁",
                                                                             "prepend_scheme": "always", "split": True}]}),
    "tiny-first.json": tokenizer_json(
        bpe(GEMMA_VOCAB, GEMMA_MERGES, byte_fallback=True),
        [added(0, "<unk>", True), added(1, "<s>", True), added(2, "</s>", True), added(29, "[MASK]", True)],
        normalizer={"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": "ll"}, "content": "L"}]},
        pre_tokenizer={"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False},
        post_processor=template("<s>", "</s>"),
        decoder=GEMMA_DECODER),
    "tiny-wordpiece-style.json": tokenizer_json(
        bpe({"<unk>": 0, "a": 1, "b": 2, "c": 3, "##a": 4, "##b": 5, "##c": 6, "ab": 7, "abc": 8, "-": 9, ".": 10,
             "##-": 11, "##.": 12, "cab": 13, "##ab": 14},
            [["a", "##b"], ["ab", "##c"], ["##a", "##b"]],
            continuing_subword_prefix="##", ignore_merges=True, fuse_unk=False),
        [added(0, "<unk>", True)],
        pre_tokenizer={"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"String": " "}, "behavior": "Removed", "invert": False},
            {"type": "Split", "pattern": {"String": "-"}, "behavior": "Contiguous", "invert": False},
            {"type": "Split", "pattern": {"String": "."}, "behavior": "MergedWithNext", "invert": False},
            {"type": "Split", "pattern": {"String": "c"}, "behavior": "Isolated", "invert": True}]}),
}

WORDPIECE_VOCAB = {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "[MASK]": 3, "hello": 4, "world": 5, "##s": 6, ",": 7,
                   ".": 8, "!": 9, "un": 10, "##aff": 11, "##able": 12, "cafe": 13, "a": 14, "b": 15, "c": 16,
                   "##b": 17, "##c": 18, "'": 19, "t": 20, "don": 21, "s": 22, "@@s": 23, "@@b": 24, "@@c": 25,
                   "café": 26, "Hello": 27, "naive": 28, "ab": 29, "##ello": 30, "h": 31, "?": 32, "n": 33,
                   "@@aff": 34, "@@able": 35, "-": 36}


def wordpiece(vocab, **options):
    model = {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
             "max_input_chars_per_word": 100, "vocab": vocab}
    model.update(options)
    return model


WORDPIECE_ADDED = [added(0, "[UNK]", True), added(1, "[CLS]", True), added(2, "[SEP]", True),
                   added(3, "[MASK]", True, lstrip=True)]

FIXTURE_FILES.update({
    "tiny-wordpiece-nfd.json": tokenizer_json(
        wordpiece(WORDPIECE_VOCAB, max_input_chars_per_word=8), WORDPIECE_ADDED,
        normalizer={"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "StripAccents"},
                                                         {"type": "Lowercase"}]},
        pre_tokenizer={"type": "Whitespace"},
        post_processor={"type": "BertProcessing", "sep": ["[SEP]", 2], "cls": ["[CLS]", 1]},
        decoder={"type": "WordPiece", "prefix": "##", "cleanup": False}),
    "tiny-wordpiece-roberta.json": tokenizer_json(
        wordpiece(WORDPIECE_VOCAB, continuing_subword_prefix="@@"), WORDPIECE_ADDED,
        normalizer={"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": False,
                    "strip_accents": False, "lowercase": True},
        pre_tokenizer={"type": "WhitespaceSplit"},
        post_processor={"type": "RobertaProcessing", "sep": ["[SEP]", 2], "cls": ["[CLS]", 1],
                        "trim_offsets": True, "add_prefix_space": True},
        decoder={"type": "WordPiece", "prefix": "@@", "cleanup": True}),
    "tiny-wordpiece-template.json": tokenizer_json(
        wordpiece(WORDPIECE_VOCAB), WORDPIECE_ADDED,
        normalizer={"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                    "strip_accents": None, "lowercase": False},
        pre_tokenizer={"type": "BertPreTokenizer"},
        post_processor={"type": "TemplateProcessing",
                        "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                                   {"Sequence": {"id": "A", "type_id": 0}},
                                   {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                        "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 2}},
                                 {"Sequence": {"id": "B", "type_id": 1}},
                                 {"SpecialToken": {"id": "[SEP]", "type_id": 1}},
                                 {"Sequence": {"id": "A", "type_id": 0}}],
                        "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [1], "tokens": ["[CLS]"]},
                                           "[SEP]": {"id": "[SEP]", "ids": [2], "tokens": ["[SEP]"]}}},
        decoder={"type": "WordPiece", "prefix": "##", "cleanup": True}),
})

BYTE_LEVEL_TRAINING = ["Hello world, hello there! It's a test: we're testing byte-level BPE.",
                       "Numbers 123 4567 and   spaces\tand\nlines. Café naïve 日本語 😀 emoji.",
                       "I'll say they've done what you'd do; don't stop.  Double  spaces  here."]


def byte_level(add_prefix_space, post_processor):
    from tokenizers import ByteLevelBPETokenizer
    trainer = ByteLevelBPETokenizer(add_prefix_space=add_prefix_space, trim_offsets=True)
    trainer.train_from_iterator(BYTE_LEVEL_TRAINING, vocab_size=400, min_frequency=1,
                                special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], show_progress=False)
    content = json.loads(trainer._tokenizer.to_str())
    content["post_processor"] = post_processor
    for token in content["added_tokens"]:
        token["lstrip"] = token["content"] == "<mask>"
    return content


FIXTURE_FILES.update({
    "tiny-bytelevel-roberta.json": byte_level(True, {"type": "RobertaProcessing", "sep": ["</s>", 2],
                                                     "cls": ["<s>", 0], "trim_offsets": True,
                                                     "add_prefix_space": True}),
    "tiny-bytelevel-gpt2.json": byte_level(False, {"type": "ByteLevel", "add_prefix_space": False,
                                                   "trim_offsets": True, "use_regex": True}),
})

BYTE_LEVEL_TEXTS = ["Hello world", "hello  world", " leading space", "trailing   ", "It's we're they've I'll",
                    "'tis 'Twas '", "Numbers 123 4567 89", "tabs\tand\nnewlines\r\n", "Café naïve",
                    "日本語 😀 emoji 👨‍👩‍👧", "unseen: zyx qwv", "a <mask> b", "a<mask>b", "", "   ", "x\u00a0y\u3000z",
                    "ǅ Ⅻ ① ½ ٣", "don't!!! ...??? (ok)"]
# Seeded mixtures of those characters and the pattern's edge cases (apostrophes, runs of mixed whitespace).
_alphabet = sorted(set("".join(BYTE_LEVEL_TEXTS) + "'  \t\n\u2028\u00a0-_.,"))
_random = random.Random(32)
BYTE_LEVEL_TEXTS += ["".join(_random.choice(_alphabet) for _ in range(_random.randint(1, 40))) for _ in range(30)]

WORDPIECE_TEXTS = ["Hello, World!", "unaffable", "Café", "CAFÉ hello", "abc", "hellos worlds.", "don't",
                   "a\tb\nc", "ＡＢＣ", "naïve", "x", "", "   ", "hello [MASK] world", "hello[MASK]", "ab-c?",
                   "unaffablea", "Hello  ,world ' s", "e\u0301\u0316a", "我a", "a\u00adb\u200bc",
                   # Characters newer than HF's regex tables: not \w for the Whitespace pre-tokenizer.
                   "\u0339\U00018d8e\u032a\u1df2 a\U00018dbeb \x06\u0366c"]
PAIRS = {
    "tiny-bytelevel-roberta.json": [("Hello world", "hello there"), ("It's", "")],
    "tiny-bytelevel-gpt2.json": [("Hello world", " hello there")],
    "tiny-wordpiece-nfd.json": [("hello", "world"), ("", "abc"), ("Café!", "")],
    "tiny-wordpiece-roberta.json": [("hello", "world"), ("abc abc", "cafe.")],
    "tiny-wordpiece-template.json": [("hello", "world"), ("Hello, World!", "unaffable")],
    "tiny-tokenizer.json": [("hello", "world")],
}

TEXTS = {
    "tiny-bytelevel-roberta.json": BYTE_LEVEL_TEXTS,
    "tiny-bytelevel-gpt2.json": BYTE_LEVEL_TEXTS,
    "tiny-wordpiece-nfd.json": WORDPIECE_TEXTS,
    "tiny-wordpiece-roberta.json": WORDPIECE_TEXTS,
    "tiny-wordpiece-template.json": WORDPIECE_TEXTS,
    "tiny-tokenizer.json": ["hello world", "€é", "zzq hello", "a [MASK] b", "a  [MASK]", "x<sep>  y", "word",
                            "a word b", "swordfish", "a ab b", "     ", "hello▁world", "", " hello", "<s>hello</s>"],
    "tiny-metaspace.json": ["hello world", " hello", "hello  world", "▁hello", "€ hello", "", "a b  c", "hello<s>world"],
    "tiny-first.json": ["hello world", " hello", "hello [MASK] hello", "[MASK]hello", "hello", "", "é"],
    "tiny-wordpiece-style.json": ["abc", "ab", "abcabc", "a--b.c", "a b c", "cab", "xyz", "a.b.c", "ab ab-ab", "",
                                  "c-c.c"],
}


def main():
    rows = []
    for name, content in FIXTURE_FILES.items():
        path = os.path.join(FIXTURES, name)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(content, f, ensure_ascii=False, indent=1)
            f.write("\n")
        tokenizer = Tokenizer.from_file(path)
        for text, pair in [(t, None) for t in TEXTS[name]] + PAIRS.get(name, []):
            encoding = tokenizer.encode(text, pair) if pair is not None else tokenizer.encode(text)
            row = {"fixture": name, "text": text}
            if pair is not None:
                row["pair"] = pair
            row.update({"ids": encoding.ids, "type_ids": encoding.type_ids, "tokens": encoding.tokens,
                        "offsets": [x for pair in encoding.offsets for x in pair],
                        "decoded": tokenizer.decode(encoding.ids, skip_special_tokens=True),
                        "decoded_special": tokenizer.decode(encoding.ids, skip_special_tokens=False)})
            rows.append(row)
    with open(os.path.join(FIXTURES, "tiny-cases.jsonl"), "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(FIXTURE_FILES)} fixtures, {len(rows)} cases")


if __name__ == "__main__":
    main()
