"""A hostile-input corpus, generated here: broken checkpoints, odd uploads and odd text. Every case
must end in one clear message — from the library, the command line and the app — never a
traceback, and the app must always start."""

import contextlib
import io
import json
import math
import os
import re
import shutil
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from fusion.__main__ import main as cli
from fusion.model.checkpoint import CheckpointError, load_tagger
from serve.compare import compare_text
from serve.services import Services
from serve.slots import load_slot, load_slots
from ui import header, page
from ui.tabs import evaluate

CONFIG = "tagger_config.json"
UNESCAPED_TAG = re.compile(r"(?<!\\)<")  # a "<" that Markdown would read as the start of HTML
WEIGHTS = "model.safetensors"


def _edit_config(change):
    def apply(directory: Path):
        info = json.loads((directory / CONFIG).read_text())
        change(info)
        (directory / CONFIG).write_text(json.dumps(info))
    return apply


def _edit_weights(change):
    def apply(directory: Path):
        weights = load_file(str(directory / WEIGHTS))
        change(weights)
        save_file(weights, str(directory / WEIGHTS))
    return apply


def _write(name: str, text: str):
    return lambda directory: (directory / name).write_text(text)


def _local_pickle_encoder(directory: Path):
    encoder = directory / "encoder"
    encoder.mkdir()
    (encoder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (encoder / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    _edit_config(lambda i: i["config"].update(encoder=str(encoder)))(directory)


def _fifo_config(directory: Path):
    (directory / CONFIG).unlink()
    os.mkfifo(directory / CONFIG)


def _zero_config(directory: Path):
    (directory / CONFIG).unlink()
    (directory / CONFIG).symlink_to("/dev/zero")


def _permute_labels(info):
    labels = info["config"]["labels"]
    info["config"]["labels"] = labels[:3] + labels[5:] + labels[3:5]  # ORG and LOC rows swapped


BROKEN_CHECKPOINTS = {
    "dropout is text": (_edit_config(lambda i: i["config"].update(dropout="x")), "dropout"),
    "rank is text": (_edit_config(lambda i: i["config"].update(lora_rank="16")), "lora_rank"),
    "encoder is a number": (_edit_config(lambda i: i["config"].update(encoder=123)), "encoder"),
    "labels are numbers": (_edit_config(lambda i: i["config"].update(labels=list(range(7)))), "labels"),
    "fusion layer is a float": (_edit_config(lambda i: i["config"].update(fusion_layer=1.0)), "fusion_layer"),
    "fusion layer out of range": (_edit_config(lambda i: i["config"].update(fusion_layer=99)), "out of range"),
    "dropout is NaN": (_write(CONFIG, '{"format_version": 1, "config": {"dropout": NaN}}'), "dropout"),
    "nested 100,000 deep": (_write(CONFIG, "[" * 100_000 + "]" * 100_000), "nested"),
    "not JSON": (_write(CONFIG, "{ nope"), "not valid JSON"),
    "unknown key": (_edit_config(lambda i: i["config"].update(colour="red")), "unknown config keys"),
    "future format": (_edit_config(lambda i: i.update(format_version=2)), "format_version"),
    "labels permuted": (_edit_config(_permute_labels), "fingerprint does not match"),
    "int64 weights": (_edit_weights(lambda w: w.update({k: v.long() for k, v in w.items()})), "int64"),
    "float16 weights": (_edit_weights(lambda w: w.update({k: v.half() for k, v in w.items()})), "float16"),
    "NaN classifier": (_edit_weights(lambda w: w["classifier.weight"].fill_(math.nan)), "NaN"),
    "truncated weights": (lambda d: (d / WEIGHTS).write_bytes((d / WEIGHTS).read_bytes()[:100]), "safetensors"),
    "weights missing": (lambda d: (d / WEIGHTS).unlink(), "missing"),
    "config is a FIFO": (_fifo_config, "not a regular file"),
    "config links to /dev/zero": (_zero_config, "not a regular file"),
    "encoder folder with a pickle": (_local_pickle_encoder, "encoder"),
}


@pytest.fixture(scope="module")
def broken(tiny_checkpoints, tmp_path_factory) -> dict:
    """name -> (a broken copy of the tiny fusion checkpoint, words its message must hold)."""
    root = tmp_path_factory.mktemp("broken")
    cases = {}
    for index, (name, (breakage, words)) in enumerate(BROKEN_CHECKPOINTS.items()):
        directory = root / f"case{index}"
        shutil.copytree(tiny_checkpoints["fusion"], directory)
        breakage(directory)
        cases[name] = (directory, words)
    return cases


def test_the_intact_copy_loads(tiny_checkpoints):
    assert load_tagger(tiny_checkpoints["fusion"]).config.fusion_layer == 1


@pytest.mark.parametrize("name", list(BROKEN_CHECKPOINTS))
def test_a_broken_checkpoint_is_one_clear_message_everywhere(broken, name):
    directory, words = broken[name]
    with pytest.raises(CheckpointError) as caught:  # the library
        load_tagger(directory)
    assert words in str(caught.value)
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):  # the command line
        assert cli(["predict", "--checkpoint", str(directory), "Paris"]) == 2
    assert stderr.getvalue().startswith("error: ") and "Traceback" not in stderr.getvalue()
    slot = load_slot("fusion", directory)  # the app: a header line, no crash
    assert not slot.ready and words in slot.error
    text = header.header_markdown({"fusion": slot})
    assert "not loaded" in text and not UNESCAPED_TAG.search(text)


@pytest.mark.slow
def test_the_app_serves_with_every_broken_checkpoint(broken, tiny_checkpoints):
    """Start the served app once per broken fusion checkpoint; Compare still answers."""
    from gradio_client import Client

    failures = 0
    for name, (directory, _) in list(broken.items())[::4]:  # a bounded sample of the corpus
        slots = load_slots(tiny_checkpoints["baseline"], directory)
        demo = page.build_page(Services.create(slots, examples=[]))
        _, url, _ = page.launch(demo, server_name="127.0.0.1", server_port=None, prevent_thread_lock=True,
                                quiet=True)
        try:
            status, base, *_ = Client(url, verbose=False).predict("Angela Merkel visited Paris.",
                                                                   api_name="/compare")
            failures += "fusion model is not loaded" not in status or not base
        finally:
            demo.close()
    assert failures == 0


UPLOADS = {
    "one column": ("Angela\nMerkel\n", "expected"),
    "empty tag column": ("Angela\t\n", "expected"),
    "lower-case tag": ("Angela\tb-per\n", "is not O or B-/I-"),
    "E- tag": ("Angela\tE-PER\n", "is not O or B-/I-"),
    "bare type": ("Angela\tPER\n", "is not O or B-/I-"),
    "header line": ("token\ttag\nAngela\tB-PER\n", "is not O or B-/I-"),
    "NUL bytes": ("Angela\x00\tB-PER\x00\n", "is not O or B-/I-"),
}


@pytest.mark.parametrize("name", list(UPLOADS))
def test_a_bad_upload_gets_its_whole_message_escaped(models, tmp_path, name):
    content, words = UPLOADS[name]
    path = tmp_path / "upload.tsv"
    path.write_text(content, encoding="utf-8")
    message, table, _, _ = evaluate.score_upload(models, str(path), "<img src=x>", [])
    assert table.empty and words in message.replace("\\", "")
    assert not UNESCAPED_TAG.search(message)  # Markdown cannot eat <TAB> or <TYPE> as a tag


def test_odd_text_and_language_never_break_a_page(models, tmp_path):
    slots = models
    view = compare_text(slots, "Angela \udc00 Merkel in Paris")
    json.dumps([view.message, view.highlights, view.disagreement, view.table.to_dict("records")])  # encodable
    assert "".join(t for t, _ in view.highlights["baseline"]) == "Angela \ufffd Merkel in Paris"
    path = tmp_path / "ok.tsv"
    path.write_text("Paris\tB-LOC\n", encoding="utf-8")
    message, *_ = evaluate.score_upload(slots, str(path), "<script>x</script>", [])
    assert not UNESCAPED_TAG.search(message)


# --- every endpoint that tags a text, sent odd or far too much text ---------------------------

HOSTILE_TEXTS = {
    "empty": "", "blank": " \n\t ", "markup": "<img src=x onerror=alert(1)> Paris", "lone surrogate": "\ud800 Paris",
    "control characters": "a\x00b\x07c\x1b[31m Paris", "emoji": "😀😀 🇩🇪 👍🏽", "right to left": "زار محمد القاهرة.",
    "one endless word": "x" * 50_000, "Chinese over the budget": "北京" * 3_000, "English over both limits": "Paris. " * 2_000,
}


@pytest.fixture(scope="module")
def probe_slot(tiny_probes):
    from serve.probes import load_probe_slot

    return load_probe_slot(tiny_probes)


@pytest.mark.parametrize("name", list(HOSTILE_TEXTS))
def test_inside_and_layers_take_one_request_budget_of_any_text(models, probe_slot, name):
    from serve.compare import TEXT_LIMIT, fit_request, untagged_view
    from serve.explanations import ExplanationCache
    from serve.probes import GridCache
    from ui.tabs import inside, layers

    text = HOSTILE_TEXTS[name]
    request = fit_request(models, text)
    view = untagged_view(models, text)  # what /inside and /layers read, made before any tagging
    assert view.text == request.text and len(view.text) <= TEXT_LIMIT and view.fitted == request
    explanations = ExplanationCache()
    note = inside.inside_values(models, view, 0, "fusion", 99, 99, explanations).note
    json.dumps(note)  # encodable: a lone surrogate was cleaned before anything else
    assert not UNESCAPED_TAG.search(note) and request.note in note
    note, _, table, _ = layers.layers_view(probe_slot, models, view, 0, GridCache(), explanations)
    assert not UNESCAPED_TAG.search(note) and request.note in note and len(table) <= len(view.words)


# --- links far too long for the server ---------------------------------------------------------

HOSTILE_QUERIES = {
    "1 MB of text": "text=" + "%E5%8C%97" * 120_000, "1 MB of one foreign key": "x=" + "y" * 1_000_000,
    "only separators": "&" * 70_000, "broken escapes": "text=%ZZ%" * 10_000,
    "a huge cut": "cut=" + "9" * 70_000 + "&text=Paris", "many keys": "&".join(f"k{i}=v" for i in range(20_000)),
}


@pytest.mark.parametrize("name", list(HOSTILE_QUERIES))
def test_an_over_long_link_is_cut_and_opens_the_page(name):
    from urllib.parse import parse_qsl

    from ui import link

    query = link.bounded_query(HOSTILE_QUERIES[name])
    assert query is not None and len(query) <= link.QUERY_BYTES_LIMIT
    state = link.read_page(dict(parse_qsl(query)), link.PageState(), ("compare", "inside"))
    assert len(state.text) <= link.LINK_TEXT_LIMIT and isinstance(link.opened_note(state), str)


# --- an ONNX Runtime export that fails ---------------------------------------------------------

def test_a_failed_export_is_one_log_line_and_an_escaped_note(tiny_checkpoints, monkeypatch, capsys):
    from serve import slots as slots_module

    def broken(directories, timeout=600):
        raise OSError("<img src=x onerror=alert(1)> *no* [child](x)")

    monkeypatch.setattr(slots_module.onnx_runtime, "graphs_of_checkpoints", broken)
    slots = load_slots(tiny_checkpoints["baseline"], tiny_checkpoints["fusion"], merge=False)
    capsys.readouterr()
    slots_module.attach_runtimes(slots, threads=1).join(timeout=60)
    assert len(capsys.readouterr().err.strip().splitlines()) == len(slots)  # one line per model
    line = header.runtime_markdown(slots)
    assert line.startswith("*Compare runs on torch: ") and not UNESCAPED_TAG.search(line) and "\\[child\\]" in line
