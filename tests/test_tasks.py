"""Intermediate-task readers, on the real files of ../shared/data (skipped when it is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusion.data.ner import DataFormatError
from fusion.data.tasks import (INTERMEDIATE_TASKS, TASK_KINDS, ClassificationExample, SpanExample,
                               TokenExample, load_task, task_labels)

DATA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def root() -> Path:
    if not (DATA_ROOT / "intermediate").is_dir():
        pytest.skip(f"{DATA_ROOT}/intermediate is not beside the checkout")
    return DATA_ROOT


# --------------------------------------------------------------------------------------------
# The registry (no data needed)
# --------------------------------------------------------------------------------------------

def test_registry_lists_the_six_tasks_in_order():
    assert list(INTERMEDIATE_TASKS) == ["chunking", "pos", "sst2", "rte", "mrpc", "squad"]
    assert [t.domain for t in INTERMEDIATE_TASKS.values()] == [
        "syntax", "syntax", "sentiment", "inference", "paraphrase", "question answering"]
    for name, task in INTERMEDIATE_TASKS.items():
        assert task.name == name and task.kind in TASK_KINDS and task.files and task.description
        assert all(not Path(f).is_absolute() for f in task.files)


def test_unknown_task_and_split_are_value_errors(tmp_path):
    known = "chunking, pos, sst2, rte, mrpc, squad"
    with pytest.raises(ValueError, match=f"unknown intermediate task 'mnli'; known: {known}"):
        load_task(tmp_path, "mnli", "train")
    with pytest.raises(ValueError, match="split must be one of"):
        load_task(tmp_path, "rte", "test")
    with pytest.raises(ValueError, match="unknown intermediate task"):
        task_labels("mnli", [])
    with pytest.raises(ValueError, match="span task"):
        task_labels("squad", [])


def test_missing_file_names_the_path_and_the_expected_root(tmp_path):
    with pytest.raises(DataFormatError) as error:
        load_task(tmp_path, "rte", "train")
    message = str(error.value)
    assert str(tmp_path / "intermediate" / "nli" / "train.tsv") in message
    assert "../shared/data" in message


def test_malformed_chunking_line_names_file_and_line(tmp_path):
    folder = tmp_path / "intermediate" / "chunking"
    folder.mkdir(parents=True)
    (folder / "train.txt").write_text("Confidence NN B-NP\nin IN B-PP\n\nthe DT\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"train\.txt:4: expected 'TOKEN POS CHUNK'"):
        load_task(tmp_path, "chunking", "train")
    # the sentence before the bad line reads fine when capped
    assert load_task(tmp_path, "chunking", "train", max_examples=1) == [
        TokenExample(["Confidence", "in"], ["B-NP", "B-PP"])]


def test_mrpc_dev_id_missing_from_the_msr_file_is_an_error(tmp_path):
    folder = tmp_path / "intermediate" / "paraphrase"
    folder.mkdir(parents=True)
    (folder / "msr_paraphrase_train.txt").write_text(
        "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\ta \" b\tc\n", encoding="utf-8")
    (folder / "dev_ids.tsv").write_text("1\t2\n3\t4\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="1 dev id pairs are not in"):
        load_task(tmp_path, "mrpc", "dev")


# --------------------------------------------------------------------------------------------
# The real files
# --------------------------------------------------------------------------------------------

def test_chunking_counts_and_iob2_tags(root):
    train = load_task(root, "chunking", "train")
    assert len(train) == 8936
    assert len(load_task(root, "chunking", "dev", max_examples=5)) == 5
    first = train[0]
    assert first.words[0] == "Confidence" and first.tags[0] == "B-NP"
    assert all(len(e.words) == len(e.tags) for e in train)
    labels = task_labels("chunking", train)
    assert "B-NP" in labels and "I-NP" in labels and "O" in labels
    assert all(tag == "O" or tag[:2] in ("B-", "I-") for tag in labels)
    assert len(labels) == 22  # 23 in train + test; I-LST occurs only in test


def test_pos_slices_have_upos_tags(root):
    train = load_task(root, "pos", "train", max_examples=200)
    dev = load_task(root, "pos", "dev", max_examples=50)
    assert len(train) == 200 and len(dev) == 50
    assert train[0].words[:3] == ["Al", "-", "Zaman"]
    labels = task_labels("pos", train)
    assert {"PROPN", "PUNCT", "NOUN", "VERB"} <= set(labels)
    assert len(labels) <= 17


def test_sst2_strips_the_trailing_space(root):
    train = load_task(root, "sst2", "train")
    assert len(train) == 67349
    assert train[0] == ClassificationExample("hide new secretions from the parental units", None, "negative")
    assert all(e.text == e.text.strip() and e.pair is None for e in train)
    assert sum(e.label == "positive" for e in train) == 37569
    assert len(load_task(root, "sst2", "dev")) == 872
    assert task_labels("sst2", train) == ["negative", "positive"]


def test_rte_counts_and_labels(root):
    train, dev = load_task(root, "rte", "train"), load_task(root, "rte", "dev")
    assert (len(train), len(dev)) == (2490, 277)
    assert train[0] == ClassificationExample(
        "No Weapons of Mass Destruction Found in Iraq Yet.", "Weapons of Mass Destruction Found in Iraq.",
        "not_entailment")
    assert task_labels("rte", train + dev) == ["entailment", "not_entailment"]
    assert any('"' in e.text + e.pair for e in train)  # quotes are text, not csv quoting


def test_mrpc_rebuilds_the_glue_split(root):
    train, dev = load_task(root, "mrpc", "train"), load_task(root, "mrpc", "dev")
    assert (len(train), len(dev)) == (3668, 408)
    first = train[0]
    assert "\ufeff" not in first.text + first.pair + first.label
    assert first.text.startswith('Amrozi accused his brother , whom he called " the witness "')
    assert first.label == "paraphrase"
    assert task_labels("mrpc", dev) == ["not_paraphrase", "paraphrase"]
    assert not {(e.text, e.pair) for e in train} & {(e.text, e.pair) for e in dev}
    assert load_task(root, "mrpc", "dev", max_examples=3) == dev[:3]


def test_squad_is_split_by_article_and_every_span_matches(root):
    train, dev = load_task(root, "squad", "train"), load_task(root, "squad", "dev")
    assert len(train) + len(dev) == 10570
    assert (len(train), len(dev)) == (8839, 1731)
    articles = json.loads((root / "intermediate" / "qa" / "dev-v1.1.json").read_text())["data"]
    assert len(articles) == 48
    contexts = [{p["context"] for p in a["paragraphs"]} for a in articles]
    dev_contexts = set().union(*(c for i, c in enumerate(contexts) if i % 6 == 5))
    train_contexts = set().union(*(c for i, c in enumerate(contexts) if i % 6 != 5))
    assert {e.context for e in dev} <= dev_contexts and {e.context for e in train} <= train_contexts
    assert not dev_contexts & train_contexts  # no article, not even a paragraph, in both
    first = train[0]
    assert isinstance(first, SpanExample)
    assert first.question == "Which NFL team represented the AFC at Super Bowl 50?"
    assert first.context[first.answer_start:first.answer_end] == "Denver Broncos"
    answers = {(q["question"], q["answers"][0]["text"])
               for a in articles for p in a["paragraphs"] for q in p["qas"]}
    for e in train + dev:
        assert (e.question, e.context[e.answer_start:e.answer_end]) in answers
    assert load_task(root, "squad", "dev", max_examples=4) == dev[:4]


def test_squad_answer_that_does_not_match_its_offset_is_an_error(tmp_path):
    folder = tmp_path / "intermediate" / "qa"
    folder.mkdir(parents=True)
    article = {"title": "T", "paragraphs": [{"context": "Denver won.", "qas": [
        {"id": "q1", "question": "Who won?", "answers": [{"answer_start": 1, "text": "Denver"}]}]}]}
    (folder / "dev-v1.1.json").write_text(json.dumps({"data": [article], "version": "1.1"}))
    with pytest.raises(DataFormatError, match="article 0 .*question q1: answer 'Denver' is not at offset 1"):
        load_task(tmp_path, "squad", "train")


def test_max_examples_keeps_the_first_in_file_order(root):
    for task in ("chunking", "pos", "sst2", "rte", "mrpc"):
        assert load_task(root, task, "dev", max_examples=0) == []
    assert load_task(root, "rte", "train", max_examples=3) == load_task(root, "rte", "train")[:3]
    assert load_task(root, "chunking", "dev", max_examples=2) == load_task(root, "chunking", "dev")[:2]
