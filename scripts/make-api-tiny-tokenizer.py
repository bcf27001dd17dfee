#!/usr/bin/env python3
"""Writes Tests/Fixtures/tiny-model/tokenizer.json: a small Gemma-style BPE tokenizer
(space -> U+2581 normalizer, BPE with merges, <bos> A <eos> template) whose 256 ids match the tiny model's
embedding table, so the API's text routes can be tested end to end on the tiny model; and, beside it,
tiny-tokenizer-expected.jsonl: HF tokenizers' encodings (ids, tokens, Unicode-scalar offsets) of a few texts.

Run with /work/venv/bin/python (needs `tokenizers`)."""
import json
import pathlib
import string

from tokenizers import Tokenizer

out = pathlib.Path(__file__).resolve().parent.parent / "Tests/Fixtures/tiny-model/tokenizer.json"
specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
symbols = ["\u2581"] + list(string.ascii_lowercase) + list(string.ascii_uppercase) + list(string.digits) + list(".,!?'-:|é")
merge_pairs = [("\u2581", "t"), ("h", "e"), ("\u2581t", "he"), ("\u2581", "a"), ("i", "n"), ("\u2581", "s"), ("e", "r"),
               ("o", "n"), ("\u2581", "w"), ("r", "e"), ("a", "t"), ("\u2581", "q"), ("u", "e"), ("\u2581q", "ue")]
vocab = {token: index for index, token in enumerate(specials)}
for symbol in symbols:
    vocab.setdefault(symbol, len(vocab))
for left, right in merge_pairs:
    vocab.setdefault(left + right, len(vocab))
assert len(vocab) <= 256
# Fill the id space up to the model's 256 rows so every embedding-table id is also a tokenizer id.
while len(vocab) < 256:
    vocab[f"<unused{len(vocab)}>"] = len(vocab)

spec = {
    "version": "1.0",
    "truncation": None,
    "padding": None,
    "added_tokens": [
        {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
         "special": True}
        for i, t in enumerate(specials)
    ],
    "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
    "pre_tokenizer": None,
    "post_processor": {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                   {"SpecialToken": {"id": "<eos>", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "<eos>", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                 {"SpecialToken": {"id": "<eos>", "type_id": 1}}],
        "special_tokens": {
            "<bos>": {"id": "<bos>", "ids": [2], "tokens": ["<bos>"]},
            "<eos>": {"id": "<eos>", "ids": [1], "tokens": ["<eos>"]},
        },
    },
    "decoder": {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "Fuse"}]},
    "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
              "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": False, "ignore_merges": False,
              "vocab": vocab, "merges": [[a, b] for a, b in merge_pairs]},
}
out.write_text(json.dumps(spec, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

tokenizer = Tokenizer.from_file(str(out))
expected = out.parent.parent / "tiny-tokenizer-expected.jsonl"
with expected.open("w", encoding="utf-8") as lines:
    for text in ["the queen sat", "Héllo, world!", "task: search result | query: the end"]:
        encoding = tokenizer.encode(text)
        lines.write(json.dumps({"text": text, "ids": encoding.ids, "tokens": encoding.tokens,
                                "offsets": encoding.offsets}, ensure_ascii=False) + "\n")
