"""Builds tiny random cross-encoders (`*ForSequenceClassification`) and the scores the Swift tests expect.

Run from the repository root with the reference environment (torch, transformers, sentence-transformers, tokenizers):
    /work/venv-ref/bin/python scripts/make-tiny-cross-encoders.py
Writes, under Tests/EmbeddingModelTests/Fixtures/, four model directories saved with `save_pretrained` and
tiny-cross-expected.json. Deterministic.

tiny-cross-bert: BertForSequenceClassification with one label (a reranker: the pooler's dense + tanh on [CLS], then
the classifier), a WordPiece tokenizer (BertNormalizer, BertPreTokenizer, `[CLS] A [SEP] B [SEP]` with type ids 0
then 1). tiny-cross-roberta: RobertaForSequenceClassification with three named labels (classifier.dense + tanh on
<s>, then classifier.out_proj), a byte-level BPE tokenizer with RobertaProcessing. tiny-cross-xlmr:
XLMRobertaForSequenceClassification with one label and the same byte-level tokenizer (XLM-R's head and weight names
are RoBERTa's; the tokenizer is not what is tested there). tiny-cross-mpnet: MPNetForSequenceClassification with one
label (RoBERTa's head on <s>, a relative position bias in the encoder) and transformers' MPNetTokenizer over the
corpus's characters and words (`<s> A </s></s> B </s>`, type ids 0). All take at most 40 tokens (tokenizer_config's
model_max_length), so the long cases are cut with longest_first truncation.

Expected per model, for each pair and each single text: the ids and type ids of HF `tokenizers`, the logits
(`CrossEncoder.predict` with an identity activation) and the scores TEI answers: `CrossEncoder.predict` as it is for
one label (sigmoid), with `apply_softmax=True` for several.
"""

import json
import os
import shutil
import sys

import torch
from tiny_models import randomize, rounded
from sentence_transformers import CrossEncoder
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    BertConfig, BertForSequenceClassification, BertTokenizer, MPNetConfig, MPNetForSequenceClassification,
    MPNetTokenizer, PreTrainedTokenizerFast, RobertaConfig, RobertaForSequenceClassification, XLMRobertaConfig,
    XLMRobertaForSequenceClassification)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "EmbeddingModelTests", "Fixtures")
EXPECTED = os.path.join(ROOT, "tiny-cross-expected.json")
HIDDEN = 32
MAX_LENGTH = 40

QUERY = "What is the capital of France?"
DOCUMENTS = [
    "Paris is the capital and largest city of France.",
    "Berlin is the capital of Germany.",
    "The Eiffel Tower stands in Paris, on the Seine.",
    "Café au lait: coffee with hot milk, served in Lyon.",
    "cats sleep",
    # Over 40 tokens with the query: cut by longest_first, the document losing tokens first.
    "France is a country in Western Europe whose capital, Paris, sits on the Seine river; other large cities are "
    "Marseille, Lyon, Toulouse and Nice, and its oldest towns date back to the Romans.",
]
SINGLES = [
    "I love this movie.",
    "The weather is terrible today!",
    "Dogs are loyal.",
    # Over 40 tokens alone: cut to the first 38 plus the two special tokens.
    "A very long review that keeps going about the plot, the actors, the music, the city of Paris, the coffee in "
    "Lyon and the river Seine, far past what the tiny model takes, so that truncation has work to do here.",
]
CORPUS = [QUERY] + DOCUMENTS + SINGLES + [
    "The quick brown fox jumps over the lazy dog.", "Machine learning models rank documents for a query.",
    "Coffee, tea and milk.", "Is it raining in Berlin or in Paris?"]


def wordpiece_tokenizer():
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=220, special_tokens=specials))
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tokenizer.decoder = decoders.WordPiece()
    # BertTokenizer, not the generic class: its model inputs include token_type_ids, which CrossEncoder then passes on.
    return BertTokenizer(
        tokenizer_object=tokenizer, model_max_length=MAX_LENGTH, pad_token="[PAD]", unk_token="[UNK]",
        cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")


def mpnet_tokenizer():
    """MPNet's specials, <pad> at 1 (the padding index MPNetEmbeddings fixes), then the corpus's characters alone and as
    `##`, and its words: counted, not trained, because WordPieceTrainer's pieces change from run to run."""
    normalizer, splitter = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    words = sorted({word for text in CORPUS for word, _ in splitter.pre_tokenize_str(normalizer.normalize_str(text))})
    characters = sorted({c for word in words for c in word})
    pieces = ["<s>", "<pad>", "</s>", "[UNK]", "<mask>"] + characters + ["##" + c for c in characters] + words
    return MPNetTokenizer(
        vocab={piece: i for i, piece in enumerate(dict.fromkeys(pieces))}, model_max_length=MAX_LENGTH)


def byte_level_tokenizer():
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tokenizer.train_from_iterator(CORPUS, trainers.BpeTrainer(
        vocab_size=330, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    tokenizer.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, model_max_length=MAX_LENGTH, bos_token="<s>", eos_token="</s>", sep_token="</s>",
        cls_token="<s>", pad_token="<pad>", unk_token="<unk>", mask_token="<mask>")


def build(name, seed, make_model, tokenizer):
    directory = os.path.join(ROOT, name)
    shutil.rmtree(directory, ignore_errors=True)
    torch.manual_seed(seed)
    model = make_model(len(tokenizer))
    randomize(model.eval(), classifier_scale=4.0)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return CrossEncoder(directory, device="cpu")  # what was saved, not what is in memory


def bert(vocabulary):
    return BertForSequenceClassification(BertConfig(
        vocab_size=vocabulary, hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=64, type_vocab_size=2, layer_norm_eps=1e-12, hidden_act="gelu", pad_token_id=0,
        num_labels=1))


def roberta(vocabulary):
    return RobertaForSequenceClassification(RobertaConfig(
        vocab_size=vocabulary, hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=MAX_LENGTH + 2, type_vocab_size=1, layer_norm_eps=1e-5, hidden_act="gelu",
        pad_token_id=1, bos_token_id=0, eos_token_id=2,
        id2label={0: "contradiction", 1: "entailment", 2: "neutral"},
        label2id={"contradiction": 0, "entailment": 1, "neutral": 2}))


def xlmr(vocabulary):
    return XLMRobertaForSequenceClassification(XLMRobertaConfig(
        vocab_size=vocabulary, hidden_size=HIDDEN, num_hidden_layers=1, num_attention_heads=2, intermediate_size=48,
        max_position_embeddings=MAX_LENGTH + 2, type_vocab_size=1, layer_norm_eps=1e-5, hidden_act="gelu",
        pad_token_id=1, bos_token_id=0, eos_token_id=2, num_labels=1))


def mpnet(vocabulary):
    return MPNetForSequenceClassification(MPNetConfig(
        vocab_size=vocabulary, hidden_size=HIDDEN, num_hidden_layers=1, num_attention_heads=4, intermediate_size=48,
        max_position_embeddings=MAX_LENGTH + 2, layer_norm_eps=1e-5, hidden_act="gelu", pad_token_id=1,
        bos_token_id=0, eos_token_id=2, num_labels=1))


def expected(encoder, tokenizer):
    """Every case through `CrossEncoder.predict`, with the tokenizer's ids for the model-level tests."""
    several = encoder.num_labels > 1
    inputs = [[QUERY, document] for document in DOCUMENTS] + SINGLES
    logits = encoder.predict(inputs, activation_fn=torch.nn.Identity())
    scores = encoder.predict(inputs, apply_softmax=True) if several else encoder.predict(inputs)
    cases = []
    for index, case in enumerate(inputs):
        texts = case if isinstance(case, list) else [case]
        encoding = tokenizer(*texts, truncation=True, return_token_type_ids=True)
        cases.append({
            "texts": texts, "ids": encoding["input_ids"], "types": encoding["token_type_ids"],
            "logits": rounded([float(v) for v in (logits[index] if several else [logits[index]])]),
            "scores": rounded([float(v) for v in (scores[index] if several else [scores[index]])])})
    return {"labels": [encoder.model.config.id2label[i] for i in range(encoder.num_labels)], "cases": cases}


def main():
    wordpiece = wordpiece_tokenizer()
    byte_level = byte_level_tokenizer()
    result = {}
    for name, seed, make_model, tokenizer in [
        ("tiny-cross-bert", 3301, bert, wordpiece), ("tiny-cross-roberta", 3302, roberta, byte_level),
        ("tiny-cross-xlmr", 3303, xlmr, byte_level), ("tiny-cross-mpnet", 3304, mpnet, mpnet_tokenizer()),
    ]:
        encoder = build(name, seed, make_model, tokenizer)
        assert encoder.max_seq_length == MAX_LENGTH, encoder.max_seq_length
        result[name] = expected(encoder, tokenizer)
        directory = os.path.join(ROOT, name)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(directory) for f in fs)
        print(f"{directory}: {size} bytes", file=sys.stderr)
    with open(EXPECTED, "w") as out:
        json.dump(result, out, separators=(",", ":"), ensure_ascii=False)
        out.write("\n")
    print(f"{EXPECTED}: {os.path.getsize(EXPECTED)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
