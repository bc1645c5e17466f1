"""app.py and the page it serves: the flags and settings, the page as built (ui/page.py), then the
served app driven by gradio_client (slow: a server). Each tab's own functions are tested in
tests/test_ui_*.py, the server side in tests/test_serve_*.py."""

import json
import os
import socket
from pathlib import Path

import gradio as gr
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from conftest import make_record  # noqa: E402

import app  # noqa: E402
from serve import compare  # noqa: E402
from serve.services import Services  # noqa: E402
from serve.settings import COMPARE_BATCH, Settings, SettingsError  # noqa: E402
from ui import page, tour  # noqa: E402
from ui.tabs import compare as compare_tab  # noqa: E402
from ui.tabs import evaluate  # noqa: E402
from ui.tabs import results  # noqa: E402

CONLL = "Angela\tB-PER\nMerkel\tI-PER\nbesuchte\tO\nParis\tB-LOC\n\nDie\tO\nNew\tB-ORG\nYork\tI-ORG\nTimes\tI-ORG\n"


# --------------------------------------------------------------------------------------------
# Flags and settings
# --------------------------------------------------------------------------------------------

def test_flags_and_environment(monkeypatch):
    monkeypatch.setenv("LFE_PORT", "7999")
    monkeypatch.setenv("LFE_FUSION", "somewhere/fusion-l3")
    monkeypatch.setenv("LFE_SHARE", "1")
    args = app.parse_args([])
    assert (args.port, args.fusion, args.share, args.host) == (7999, "somewhere/fusion-l3", True, "127.0.0.1")
    args = app.parse_args(["--port", "8001", "--host", "0.0.0.0", "--baseline", "b"])
    assert (args.port, args.host, args.baseline) == (8001, "0.0.0.0", "b")


def test_the_hosting_knobs_are_environment_variables():
    settings = Settings.from_environment({})
    assert settings.compare_queued is False and settings.runtime == "onnx" and settings.threads >= 1
    assert settings.compare_batch == COMPARE_BATCH
    assert Settings.from_environment({"LFE_COMPARE_QUEUED": "1"}).compare_queued is True
    assert Settings.from_environment({"LFE_RUNTIME": "torch"}).runtime == "torch"
    chosen = Settings.from_environment({"LFE_THREADS": "3", "LFE_COMPARE_BATCH": "1"})
    assert (chosen.threads, chosen.compare_batch) == (3, 1)
    for wrong in ({"LFE_RUNTIME": "tpu"}, {"LFE_THREADS": "many"}, {"LFE_COMPARE_BATCH": "8.5"}):
        with pytest.raises(SettingsError, match=next(iter(wrong))):
            Settings.from_environment(wrong)
    with pytest.raises(SystemExit):  # the flags are the user's only; the knobs are not flags
        app.parse_args(["--runtime", "torch"])


# --------------------------------------------------------------------------------------------
# The page as built (no server)
# --------------------------------------------------------------------------------------------

def test_every_tour_step_opens_a_tab_of_the_app(built_page):
    demo, services = built_page  # with the shipped examples
    examples = [{"language": "en", "text": "Paris"}, {"language": "de", "text": "Berlin", "disagree": True}]
    ids = {block.id for block in demo.blocks.values() if isinstance(block, gr.Tab)}
    assert len(tour.STEPS) == 5 and {step.tab for step in tour.STEPS} <= ids
    # the first step tags the first example, the disagreement step one the models disagree on
    assert [tour.example_text(step, examples) for step in tour.STEPS] == ["Paris", "Berlin", None, None, None]
    assert tour.STEPS[1].anchor == "disagreement" and "Show the right answer" in tour.STEPS[1].text
    assert [tour.example_text(step, examples[:1]) for step in tour.STEPS[:2]] == ["Paris", None]  # none disagrees
    assert [tour.example_text(step, []) for step in tour.STEPS[:2]] == [None, None]
    tagging = [fn for fn in demo.fns.values() if fn.fn is not None and fn.name == "<lambda>" and not fn.inputs
               and [o.elem_id for o in fn.outputs] == ["text"]]
    shown = [tour.example_text(step, services.examples) for step in tour.STEPS[:2]]
    assert shown[0] != shown[1] and None not in shown
    assert sorted(fn.fn() for fn in tagging) == sorted(shown)  # each of the two buttons fills the box


def test_the_endpoints_keep_their_names_and_the_new_sections_add_theirs(built_page):
    demo, _ = built_page
    named = {fn.api_name for fn in demo.fns.values() if fn.api_name and fn.api_visibility == "public"}
    assert named == {"compare", "inside", "layers", "results", "reload_runs", "layer_probes",
                     "intermediate_tasks", "evaluate", "cancel_evaluate", "errors", "tuning",
                     "four_tasks", "pairs", "pair_inside"}


def test_no_server_call_outputs_a_container_and_compare_shows_progress_on_the_panes(built_page, models, tmp_path):
    """A container among a server call's outputs (the Tabs, above all: the whole app) makes
    Gradio's page re-read every component inside it at each later status change of any call;
    tabs are opened in the browser instead. Compare's progress is a timer on the two panes, not five loaders."""
    demo, _ = built_page
    server_calls = [fn for fn in demo.fns.values() if fn.fn is not None]
    containers = (gr.Tabs, gr.Tab, gr.Row, gr.Column, gr.Group, gr.Accordion)
    # known, small enough: the downloads (three buttons)
    allowed = {block._id for block in demo.blocks.values() if isinstance(block, gr.Column)
               and block.elem_id == "downloads"}
    assert [fn.name for fn in server_calls
            if any(isinstance(o, containers) and o._id not in allowed for o in fn.outputs)] == []
    tab_switches = [fn for fn in demo.fns.values() if fn.fn is None and fn.js and "data-tab-id" in fn.js]
    assert len(tab_switches) >= 4  # the link, an entity row, Inside's way back, the tour, the error browsers
    compare_fn = next(fn for fn in server_calls if fn.api_name == "compare")
    assert compare_fn.show_progress == "minimal"
    assert [o.elem_id for o in compare_fn.show_progress_on] == ["baseline-entities", "fusion-entities"]
    # a page's click is one direct request (batched by the app, not by Gradio's queue) unless
    # the host asks for the queue, which shows each person their place in line
    assert not compare_fn.queue and not compare_fn.batch and compare_fn.concurrency_limit == 2 * COMPARE_BATCH
    queued = page.build_page(Services.create(models, runs_dir=tmp_path, examples=[],
                                             settings=Settings(compare_queued=True)))
    assert next(fn for fn in queued.fns.values() if fn.api_name == "compare").queue


# --------------------------------------------------------------------------------------------
# The served app, driven by gradio_client
# --------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(models, tmp_path_factory):
    """(the page's address, its services)."""
    folder = tmp_path_factory.mktemp("served-runs")
    for record in (make_record("baseline-s1", "baseline", None, "test", {"en": 0.8, "de": 0.6}),
                   make_record("fusion-s1", "fusion-l1", 1, "test", {"en": 0.82, "de": 0.65})):
        (folder / f"{record['name']}.json").write_text(json.dumps(record), encoding="utf-8")
    services = Services.create(models, runs_dir=folder)
    demo = page.build_page(services)
    port = _free_port()
    page.launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/", services
    demo.close()


@pytest.mark.slow
def test_served_app(served, tmp_path):
    from gradio_client import Client, handle_file

    url, services = served
    client = Client(url, verbose=False)
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/compare", "/results", "/evaluate"} <= set(endpoints)

    status, base, fused, diff, compared = client.predict("Angela Merkel visited Paris.", api_name="/compare")
    assert "Baseline found" in status
    assert "".join(item["token"] for item in base) == "Angela Merkel visited Paris."
    assert fused and diff
    assert compared == "Angela Merkel visited Paris."  # the downloads and the table are drawn after Compare
    view = services.compare.view(compared)  # the view Compare made, kept for the page's next calls
    assert services.compare.recent.find(view.key) is view
    table = compare_tab.layout_values(view).table
    assert list(table.columns) == compare.TABLE_COLUMNS and "Paris" in set(table["entity"])
    assert "visited" in Path(compare_tab.export_values(view, {}, {}).html).read_text(encoding="utf-8")
    note, *figures, layer, head = client.predict("Angela Merkel visited Paris.", 0, "fusion", 3, 1, None,
                                                 api_name="/inside")
    assert "fusion" in note and all(figure["type"] == "plotly" for figure in figures)
    assert len(figures) == 4 and (layer, head) == (3, 1)
    note, grid, words, sentence = client.predict("Angela Merkel visited Paris.", 0, api_name="/layers")
    assert note and grid["type"] == "plotly"  # a sentence number from an API caller is taken, not refused

    status, base, *_ = client.predict("", api_name="/compare")
    assert "Type a sentence" in status and base is None
    status, base, *_ = client.predict("😀 \x00 " + "Paris " * 9000, api_name="/compare")
    assert "5,000" in status and base

    key = results.group_choices([make_record("baseline-s1", "baseline", None, "test", {"en": 0.8})])[0][1]
    summary, frame, csv, delta, sweep = client.predict(key, "fusion-l1", "family", api_name="/results")
    assert "target languages" in summary and Path(csv).read_text().startswith("language,")
    assert [row[0] for row in frame["data"]] == ["de", "en"]

    upload = tmp_path / "mine.tsv"
    upload.write_text(CONLL, encoding="utf-8")
    message, scores, *_ = client.predict(handle_file(str(upload)), "de", api_name="/evaluate")
    assert "Scored **2** sentences" in message and scores["data"]
    message, *_ = client.predict(None, "de", api_name="/evaluate")
    assert "Upload a CoNLL-style file" in message


@pytest.mark.slow
def test_compare_requests_that_wait_together_are_answered_together(served, monkeypatch):
    """Compare is batched: requests waiting while one runs go through the models in one call,
    and each page still gets its own text's answer (API clients come through Gradio's queue,
    a batch of them at once, into the app's batcher)."""
    import threading
    import time

    from gradio_client import Client

    sizes, release = [], threading.Event()
    real = compare.compare_texts

    def recorded(slots, texts):
        sizes.append(len(texts))
        if len(sizes) == 1:
            release.wait(10)  # hold the first call so that the others queue up behind it
        return real(slots, texts)

    monkeypatch.setattr(compare, "compare_texts", recorded)
    client = Client(served[0], verbose=False)
    texts = [f"Angela Merkel visited city number {index}." for index in range(6)]
    jobs = [client.submit(texts[0], api_name="/compare")]
    deadline = time.time() + 10
    while not sizes and time.time() < deadline:
        time.sleep(0.02)
    jobs += [client.submit(text, api_name="/compare") for text in texts[1:]]
    time.sleep(1.0)  # the five are in the queue now
    release.set()
    answers = [job.result(timeout=60) for job in jobs]
    assert [answer[-1] for answer in answers] == texts  # each its own text ...
    assert all(str(index) in "".join(item["token"] for item in answer[1])
               for index, answer in enumerate(answers))  # ... and its own entities
    assert sizes[0] == 1 and max(sizes) > 1 and sum(sizes) == len(texts)


@pytest.mark.slow
def test_an_upload_waits_while_anyone_compares_and_can_be_cancelled(served, monkeypatch, tmp_path):
    import threading
    import time

    from gradio_client import Client, handle_file

    comparing, release, scored = threading.Event(), threading.Event(), []
    real_compare, real_score = compare.compare_texts, evaluate.predict_dataset

    def held(slots, texts):
        comparing.set()
        release.wait(10)
        return real_compare(slots, texts)

    monkeypatch.setattr(compare, "compare_texts", held)
    monkeypatch.setattr(evaluate, "predict_dataset", lambda *a, **k: scored.append(1) or real_score(*a, **k))
    upload = tmp_path / "mine.tsv"
    upload.write_text(CONLL, encoding="utf-8")
    client = Client(served[0], verbose=False)
    compare_job = client.submit("Paris", api_name="/compare")
    assert comparing.wait(10)
    scoring = client.submit(handle_file(str(upload)), "de", api_name="/evaluate")
    time.sleep(1.5)
    assert not scored  # the file waits while the Compare runs
    assert client.predict(api_name="/cancel_evaluate") == evaluate.CANCELLED
    release.set()
    assert compare_job.result(timeout=30)[-1] == "Paris"
    deadline = time.time() + 30
    while not scoring.done() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert scoring.done() and not scored  # cancelled before any model ran
    monkeypatch.setattr(compare, "compare_texts", real_compare)
    message = client.predict(handle_file(str(upload)), "de", api_name="/evaluate")[0]
    assert "Scored **2** sentences" in message and scored  # the next upload is scored


@pytest.mark.slow
def test_a_second_start_answers_from_the_graphs_the_first_one_stored(tiny_checkpoints, tmp_path):
    """`python app.py` twice on one cache folder: the first start loads the torch taggers and
    exports their graphs; the second answers from those graphs and then checks them against torch."""
    import subprocess
    import sys
    import time

    from gradio_client import Client

    def start(until: str) -> tuple[list[str], list]:
        port = _free_port()
        env = {**os.environ, "LFE_CACHE_DIR": str(tmp_path / "cache"), "LFE_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen([sys.executable, str(Path(app.__file__)), "--port", str(port),
                                    "--baseline", tiny_checkpoints["baseline"], "--fusion", tiny_checkpoints["fusion"],
                                    "--runs", str(tmp_path / "no-runs")],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines, answer = [], None
        try:
            deadline = time.time() + 600  # a generous guard: a busy 2-core machine exported for 210 s
            while time.time() < deadline and not any(until in line for line in lines):
                line = process.stdout.readline()
                if not line:
                    break
                lines.append(line)
                if "Running on local URL" in line:
                    answer = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(
                        "Angela Merkel visited Paris.", api_name="/compare")
        finally:
            process.terminate()
            process.wait(timeout=20)
        return lines, answer

    first, answer = start("fusion: runs on ONNX Runtime")
    assert any("no graph of it in the cache yet" in line for line in first) and answer is not None
    assert any("fusion: runs on ONNX Runtime" in line for line in first), "the first start never attached its graphs"
    second, again = start("fusion: runs on ONNX Runtime (its cached graph agrees with torch")
    log = "".join(second)
    assert "baseline: " + tiny_checkpoints["baseline"] + " loaded from its cached graph" in log
    assert "baseline: runs on ONNX Runtime (its cached graph agrees with torch" in log, log
    assert again == answer  # the same status line, panes and compared text as the torch start's
