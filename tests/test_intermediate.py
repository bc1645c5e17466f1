"""Intermediate-task training on tiny random encoders and hand-made data in the real file layouts:
every head learns a toy task, and the adapters carry over into NER training by name."""

import json
import random

import pytest
import torch
from conftest import SHARED_DATA, write_xnli
from safetensors.torch import load_file

from fusion.model.checkpoint import load_tagger
from fusion.model.modeling import TaggerConfig, TokenTagger
from fusion.training.intermediate import (ADAPTERS_FILE, IntermediateError, IntermediateModel,
                                          IntermediateOptions, read_intermediate, start_from_intermediate,
                                          train_intermediate)
from fusion.training.train import TrainOptions, train

WORDS = ["the", "a", "new", "times", "visited", "in", "york", "house", "river", "green", "small"]
CITIES = ["paris", "berlin", "london"]


def _sentences(rng, n, length=6):
    return [[rng.choice(WORDS) for _ in range(length)] for _ in range(n)]


def _write_chunking(root, rng):
    """Toy chunking: cities are B-NP, everything else O."""
    for name, n in (("train.txt", 96), ("test.txt", 40)):
        lines = []
        for words in _sentences(rng, n):
            words[rng.randrange(len(words))] = rng.choice(CITIES)
            lines += [f"{w} NN {'B-NP' if w in CITIES else 'O'}" for w in words] + [""]
        path = root / "intermediate" / "chunking" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")


def _write_sst2(root, rng):
    """Toy sentiment: positive when a city is named."""
    for name, n in (("train.tsv", 128), ("dev.tsv", 60)):
        rows = ["sentence\tlabel"]
        for words in _sentences(rng, n):
            label = rng.randrange(2)
            if label:
                words[rng.randrange(len(words))] = rng.choice(CITIES)
            rows.append(" ".join(words) + " \t" + str(label))
        path = root / "intermediate" / "sentiment" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(rows) + "\n")


def _write_rte(root, rng):
    """Toy inference: entailment when the second sentence names a city."""
    for name, n in (("train.tsv", 128), ("dev.tsv", 60)):
        rows = ["index\tsentence1\tsentence2\tlabel"]
        for i, (first, second) in enumerate(zip(_sentences(rng, n), _sentences(rng, n))):
            entails = rng.randrange(2)
            if entails:
                second[rng.randrange(len(second))] = rng.choice(CITIES)
            rows.append(f"{i}\t{' '.join(first)}\t{' '.join(second)}\t"
                        f"{'entailment' if entails else 'not_entailment'}")
        path = root / "intermediate" / "nli" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(rows) + "\n")


def _write_squad(root, rng):
    """Toy QA: the answer is the one city in the context; 12 articles (2 held out as dev)."""
    articles = []
    for a in range(12):
        paragraphs = []
        for p in range(12):
            words = _sentences(rng, 1, 10)[0]
            city = rng.choice(CITIES)
            words[rng.randrange(len(words))] = city
            context = " ".join(words)
            start = context.index(city)
            paragraphs.append({"context": context, "qas": [{
                "id": f"{a}-{p}", "question": "which city ?",
                "answers": [{"answer_start": start, "text": city}]}]})
        articles.append({"title": f"article {a}", "paragraphs": paragraphs})
    path = root / "intermediate" / "qa" / "dev-v1.1.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"data": articles, "version": "1.1"}))


WRITERS = {"chunking": _write_chunking, "sst2": _write_sst2, "rte": _write_rte, "squad": _write_squad}
KINDS = {"chunking": ("token", 2), "sst2": ("sentence", 2), "rte": ("pair", 2), "squad": ("span", 0)}
# (epochs, learning rate) that learn each toy task in a few seconds; chance is 0.5 for sst2 / rte
SCHEDULE = {"chunking": (3, 1e-2), "sst2": (10, 3e-3), "rte": (10, 3e-3), "squad": (3, 1e-2)}


def _run(tmp_path, encoder, task, **changes):
    root = tmp_path / "data"
    WRITERS[task](root, random.Random(0))
    torch.manual_seed(0)
    kind, n_labels = KINDS[task]
    model = IntermediateModel(TaggerConfig(encoder=encoder), kind, n_labels)
    options = IntermediateOptions(task=task, data=str(root), output_dir=str(tmp_path / task),
                                  epochs=changes.pop("epochs", SCHEDULE[task][0]),
                                  learning_rate=SCHEDULE[task][1], batch_size=8,
                                  save_every=changes.pop("save_every", 10_000), **changes)
    return train_intermediate(options, show_progress=False, model=model)


@pytest.mark.slow  # trains each head to a floor: ~30 s
@pytest.mark.parametrize("task,floor", [("chunking", 0.95), ("sst2", 0.9), ("rte", 0.85),
                                        ("squad", 0.8)])
def test_each_head_learns_a_toy_task(tmp_path, tiny_bert, task, floor):
    info = _run(tmp_path, tiny_bert, task)
    assert info["kind"] == KINDS[task][0]
    assert info["dev_score"] >= floor, info
    assert info["examples"] > 0 and info["dev_examples"] > 0


def test_caps_bound_the_examples_and_tokens_and_are_recorded(tmp_path, tiny_bert):
    info = _run(tmp_path, tiny_bert, "sst2", epochs=1, max_examples=50, max_tokens=400)
    assert info["examples"] <= 50 and info["tokens"] <= 400
    assert info["cap"] == {"max_examples": 50, "max_tokens": 400, "max_length": 192}


@pytest.mark.slow  # two trainings in a row
def test_adapters_carry_over_into_ner_training_and_the_head_is_dropped(tmp_path, tiny_bert):
    _run(tmp_path, tiny_bert, "sst2", epochs=1)
    stage = tmp_path / "sst2"
    adapters = load_file(str(stage / ADAPTERS_FILE))
    assert adapters and all("lora_" in name for name in adapters)

    tagger = TokenTagger(TaggerConfig(encoder=tiny_bert, fusion_layer=1))
    record = start_from_intermediate(tagger, stage)
    own = dict(tagger.named_parameters())
    for name, tensor in adapters.items():
        assert torch.equal(own[name], tensor)  # NER starts exactly where the stage ended
    assert record["task"] == "sst2" and record["adapters_sha256"]

    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside the checkout")
    options = TrainOptions(output_dir=str(tmp_path / "ner"), data=str(SHARED_DATA),
                           max_train_sentences=16, max_dev_sentences=8, epochs=1,
                           start_from=str(stage), encoder=tiny_bert, fusion_layer=1)
    train(options, show_progress=False, tagger=TokenTagger(TaggerConfig(encoder=tiny_bert, fusion_layer=1)))
    ner = load_tagger(tmp_path / "ner", merge=False)
    assert ner.checkpoint_info["training"]["intermediate"]["task"] == "sst2"
    assert not any("head" in name for name in load_file(str(tmp_path / "ner" / "model.safetensors")))


def test_mismatched_or_tampered_adapters_are_refused(tmp_path, tiny_bert):
    _run(tmp_path, tiny_bert, "sst2", epochs=1)
    stage = tmp_path / "sst2"
    other = TokenTagger(TaggerConfig(encoder=tiny_bert, lora_rank=4))
    with pytest.raises(IntermediateError, match="lora_rank"):
        start_from_intermediate(other, stage)
    (stage / ADAPTERS_FILE).write_bytes((stage / ADAPTERS_FILE).read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(IntermediateError, match="sha256|unreadable"):
        read_intermediate(stage)
    with pytest.raises(IntermediateError, match="not a finished"):
        read_intermediate(tmp_path / "missing")


def test_an_interrupted_stage_resumes_to_the_same_adapters(tmp_path, tiny_bert, monkeypatch):
    import fusion.training.intermediate as intermediate_module

    _run(tmp_path / "straight", tiny_bert, "sst2", epochs=2, save_every=5)
    calls = {"n": 0}
    real_collate = intermediate_module.collate

    def crashing_collate(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 23:  # epoch 2, after the resume point at its step 5
            raise KeyboardInterrupt
        return real_collate(*args, **kwargs)

    monkeypatch.setattr(intermediate_module, "collate", crashing_collate)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "resumed", tiny_bert, "sst2", epochs=2, save_every=5)
    monkeypatch.setattr(intermediate_module, "collate", real_collate)
    _run(tmp_path / "resumed", tiny_bert, "sst2", epochs=2, save_every=5)
    straight = load_file(str(tmp_path / "straight" / "sst2" / ADAPTERS_FILE))
    resumed = load_file(str(tmp_path / "resumed" / "sst2" / ADAPTERS_FILE))
    assert straight.keys() == resumed.keys()
    assert all(torch.allclose(straight[k], resumed[k], atol=1e-6) for k in straight)


def test_a_pair_classifier_starts_from_intermediate_adapters(tmp_path, tiny_bert):
    """XNLI as a target after an intermediate task: the same adapters carry over into a pair classifier."""
    from fusion.model.pairs import PairClassifier, PairConfig
    from fusion.training.pairs import PairTrainOptions, train_pairs

    _run(tmp_path, tiny_bert, "sst2", epochs=1, max_examples=30)
    write_xnli(tmp_path / "pairs", n=120)
    options = PairTrainOptions(output_dir=str(tmp_path / "xnli"), data=str(tmp_path / "pairs"), encoder=tiny_bert,
                               epochs=1, batch_size=8, start_from=str(tmp_path / "sst2"))
    classifier = PairClassifier(PairConfig(encoder=tiny_bert))
    train_pairs(options, show_progress=False, classifier=classifier)
    assert load_tagger(tmp_path / "xnli").checkpoint_info["training"]["intermediate"]["task"] == "sst2"
