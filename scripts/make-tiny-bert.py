"""Builds tiny random BERT and RoBERTa sentence-transformers models and the outputs the Swift parity tests expect.

Run from the repository root with the reference environment (torch, transformers, sentence-transformers):
    /work/venv-ref/bin/python scripts/make-tiny-bert.py
Writes Tests/EmbeddingModelTests/Fixtures/tiny-bert/ and tiny-roberta/ (complete sentence-transformers directories,
saved with `save_pretrained` / `SentenceTransformer.save`) and tiny-bert-expected.json. Deterministic.

tiny-bert: BertModel (4 heads of 8, 2 layers, 2 token types), mean pooling, a Dense 32→16 with bias and Tanh, then
Normalize. tiny-roberta: RobertaModel (pad_token_id 1: positions start at 2, and a token equal to 1 keeps position 1),
CLS pooling, Normalize. Expected outputs for every pooling mode (the Swift tests rewrite 1_Pooling/config.json),
the token states, and BERT with a pair's token types. Weights are drawn wider than the default init (norm weights around
1 ± 0.5, embeddings N(0, 1)) so a mistake in any term moves the outputs far beyond the tests' 1e-5.
"""

import json
import os
import shutil
import sys

import torch
from tiny_models import randomize, rounded
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Pooling, Transformer
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast, RobertaConfig, RobertaModel

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "EmbeddingModelTests", "Fixtures")
EXPECTED = os.path.join(ROOT, "tiny-bert-expected.json")
VOCAB = 200
HIDDEN = 32
MAX_LENGTH = 40
MODES = ["cls", "mean", "max", "mean_sqrt_len_tokens", "lasttoken"]

BERT_SEQUENCES = [
    [2],
    [2, 3],
    [2, 17, 33, 150, 3],
    [2] + [(7 * i + 5) % 190 + 5 for i in range(15)] + [3],
    [2] + [(13 * i + 11) % 190 + 5 for i in range(37)] + [199, 3],
]
# RoBERTa: <s> = 0, </s> = 2, <pad> = 1; the fourth sequence has a 1 inside it.
ROBERTA_SEQUENCES = [
    [0],
    [0, 2],
    [0, 44, 45, 46, 2],
    [0, 9, 1, 12, 1, 1, 80, 2],
    [0] + [(11 * i + 3) % 190 + 5 for i in range(37)] + [2],
]


def save_tokenizer(work_dir, specials):
    # A word-level tokenizer, only so the directory loads in sentence-transformers; the Swift tests feed ids.
    vocab = dict(specials)
    vocab.update({f"t{i}": i for i in range(len(specials), VOCAB)})
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]" if "[UNK]" in vocab else "<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    names = list(specials)
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token=names[0], unk_token=names[1]).save_pretrained(
        work_dir)


def build(name, architecture, head):
    directory = os.path.join(ROOT, name)
    work_dir = directory + ".work"
    shutil.rmtree(work_dir, ignore_errors=True)
    if architecture == "bert":
        torch.manual_seed(3201)
        config = BertConfig(
            vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=MAX_LENGTH, type_vocab_size=2, layer_norm_eps=1e-12, hidden_act="gelu",
            pad_token_id=0)
        model = BertModel(config, add_pooling_layer=True)
        specials = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3}
    else:
        torch.manual_seed(3202)
        config = RobertaConfig(
            vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=MAX_LENGTH + 2, type_vocab_size=1, layer_norm_eps=1e-5, hidden_act="gelu",
            pad_token_id=1, bos_token_id=0, eos_token_id=2)
        model = RobertaModel(config, add_pooling_layer=False)
        specials = {"<pad>": 1, "<unk>": 3, "<s>": 0, "</s>": 2}
    randomize(model.eval())
    model.save_pretrained(work_dir)
    save_tokenizer(work_dir, specials)

    torch.manual_seed(7)
    modules = [Transformer(work_dir, max_seq_length=MAX_LENGTH), Pooling(HIDDEN, pooling_mode=head[0])]
    if head[1]:
        dense = Dense(HIDDEN, 16, bias=True, activation_function=torch.nn.Tanh())
        with torch.no_grad():
            dense.linear.bias.copy_(torch.randn(16) * 0.5)
        modules.append(dense)
    modules.append(Normalize())
    st = SentenceTransformer(modules=modules, device="cpu")
    shutil.rmtree(directory, ignore_errors=True)
    st.save(directory)
    shutil.rmtree(work_dir)
    os.remove(os.path.join(directory, "README.md"))  # a generated model card the tests never read
    return SentenceTransformer(directory, device="cpu")  # check what was saved, not what is in memory


def run(st, sequences, architecture):
    """Expected outputs per pooling mode: the saved modules with only the Pooling module swapped."""
    out = {"hidden": []}
    with torch.no_grad():
        for mode in MODES:
            pooling = Pooling(HIDDEN, pooling_mode=mode)
            cases = []
            for ids in sequences:
                features = {"input_ids": torch.tensor([ids]), "attention_mask": torch.ones(1, len(ids), dtype=torch.long)}
                features = st[0](features)
                if mode == MODES[0]:
                    out["hidden"].append(rounded(features["token_embeddings"][0].flatten().tolist()))
                features = pooling(features)
                for module in list(st)[2:-1]:
                    features = module(features)
                raw = features["sentence_embedding"][0]
                cases.append({
                    "ids": ids, "raw": rounded(raw.tolist()),
                    "normalized": rounded(torch.nn.functional.normalize(raw, dim=0).tolist())})
            out[mode] = cases
    return out


def main():
    bert = build("tiny-bert", "bert", ("mean", True))
    roberta = build("tiny-roberta", "roberta", ("cls", False))
    expected = {"tiny-bert": run(bert, BERT_SEQUENCES, "bert"), "tiny-roberta": run(roberta, ROBERTA_SEQUENCES, "roberta")}
    # A pair for a cross-encoder: token types 0 for the first text, 1 for the second.
    ids = [2, 40, 41, 42, 3, 60, 61, 3]
    types = [0, 0, 0, 0, 0, 1, 1, 1]
    with torch.no_grad():
        states = bert[0].auto_model(
            input_ids=torch.tensor([ids]), token_type_ids=torch.tensor([types]),
            attention_mask=torch.ones(1, len(ids), dtype=torch.long)).last_hidden_state[0]
    expected["pair"] = {"ids": ids, "types": types, "hidden": rounded(states.flatten().tolist())}
    with open(EXPECTED, "w") as out:
        json.dump(expected, out, separators=(",", ":"))
        out.write("\n")
    for name in ("tiny-bert", "tiny-roberta"):
        directory = os.path.join(ROOT, name)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(directory) for f in fs)
        print(f"{directory}: {size} bytes", file=sys.stderr)
    print(f"{EXPECTED}: {os.path.getsize(EXPECTED)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
