"""A lesson that carries itself (docs/TEACHING.md): Compare's examples and their right answers,
the links of the lesson plan, and the numbers the README and the lesson state, checked against
what the app shows. The slow tests measure with the shipped checkpoints, probes and runs."""

import json
import re
import urllib.parse
from types import SimpleNamespace

import pytest

from fusion.evaluation.error_analysis import SAMPLE_LIMIT
from fusion.evaluation.raw_text import detokenise
from fusion.text.languages import language_info
from serve.compare import TEXT_LIMIT, TOKEN_BUDGET
from serve.explanations import TOKEN_LIMIT
from serve.paths import BASELINE_DIR, CHECKPOINTS, EXAMPLES_FILE, ROOT, RUNS_DIR, SAMPLES_DIR
from serve.services import load_examples
from serve.settings import COMPARE_BATCH
from ui import tour
from ui.link import LINK_KEYS, LINK_TEXT_LIMIT, PageState, page_query, read_page
from ui.tabs.compare import gold_entities
from ui.tabs.evaluate import UPLOAD_BYTES_LIMIT, UPLOAD_SENTENCE_LIMIT

README = ROOT / "README.md"
TEACHING = ROOT / "docs" / "TEACHING.md"
APP = "http://127.0.0.1:7860/"  # where the lesson's links point (`python app.py`)
HAND = "written for this app; entities labelled by hand"


def _lesson() -> str:
    return TEACHING.read_text(encoding="utf-8")


def _links() -> dict[str, str]:
    """The lesson's links, by name: all are reference links ([text][name] ... [name]: URL)."""
    return dict(re.findall(r"^\[([\w-]+)\]: (\S+)$", _lesson(), re.MULTILINE))


def _flat(text: str) -> str:
    return " ".join(text.split())  # a phrase may wrap across lines


# --------------------------------------------------------------------------------------------
# The examples
# --------------------------------------------------------------------------------------------

def test_every_example_has_its_right_answer_its_source_and_licence():
    raw = json.loads(EXAMPLES_FILE.read_text(encoding="utf-8"))
    examples = load_examples()
    assert len(examples) == len(raw) and all("gold" in item for item in examples)  # none dropped
    assert len({item["text"] for item in examples}) == len(examples)
    for item in examples:
        assert gold_entities(item["text"], item["gold"]) is not None, item["text"]
        assert {kind for _, kind in item["gold"]} <= {"PER", "ORG", "LOC"}
        assert item["source"].strip() and item["licence"].strip()
    assert examples[0]["language"] == "en" and not examples[0].get("disagree")  # the tour's first step
    scripts = {language_info(item["language"]).script for item in examples if item.get("disagree")}
    assert {"Latin", "Cyrillic", "Arabic", "Devanagari", "Han", "Kanji + Kana"} <= scripts


def test_the_wikiann_examples_are_the_shipped_error_samples_as_they_are():
    examples = load_examples()
    wikiann = [item for item in examples if "sample" in item]
    assert wikiann
    for item in wikiann:
        language, index = item["sample"]["language"], item["sample"]["index"]
        sample = json.loads((SAMPLES_DIR / f"{language}.json").read_text(encoding="utf-8"))
        sentence = next(s for s in sample["sentences"] if s["index"] == index)
        raw = detokenise(sentence["tokens"], sentence["gold"], language)
        assert (item["language"], item["text"]) == (language, raw.text)
        assert item["gold"] == [[raw.text[start:end], kind] for start, end, kind in raw.entities]
        assert item["licence"] == sample["licence"]
        assert item["source"] == f"WikiANN (PAN-X), {language} test sentence {index}"
    assert all(item["source"] == HAND for item in examples if "sample" not in item)


def test_a_malformed_answer_is_dropped_and_its_example_kept(tmp_path):
    path = tmp_path / "examples.json"
    path.write_text(json.dumps([
        {"language": "en", "text": "Paris", "gold": [["Paris", "LOC"]]},
        {"language": "en", "text": "Rome", "gold": [["Rome"]]},
        {"language": "en", "text": "Oslo", "gold": "Oslo LOC"},
        {"language": "en", "text": "Bern", "gold": [["", "LOC"]]},
        {"language": "en", "text": " "}, "Lima", None]), encoding="utf-8")
    examples = load_examples(path)
    assert [item["text"] for item in examples] == ["Paris", "Rome", "Oslo", "Bern"]
    assert [("gold" in item) for item in examples] == [True, False, False, False]
    path.write_text("{not json", encoding="utf-8")
    assert load_examples(path) == [] and load_examples(tmp_path / "missing.json") == []


# --------------------------------------------------------------------------------------------
# The lesson's links
# --------------------------------------------------------------------------------------------

def test_every_link_of_the_lesson_is_a_view_of_the_app_written_as_the_app_writes_it():
    """Each link names a tab of the app, an example's text, a model, a layer and a head within the
    encoder's 12 × 12, and is read back exactly as written: nothing in it is dropped or clamped."""
    from ui.page import TABS

    lesson, links = _lesson(), _links()
    assert set(re.findall(r"\]\[([\w-]+)\]", lesson)) == set(links)  # each one used is defined, and used
    tabs = [tab_id for _, tab_id, _ in TABS]
    texts = {item["text"] for item in load_examples()}
    defaults = PageState(layer=12)
    for name, url in links.items():
        assert url.startswith(APP + "?"), name
        query = url[len(APP) + 1:]
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        assert set(params) <= set(LINK_KEYS), name
        state = read_page(params, defaults, tabs)
        assert page_query(state, defaults)[0] == query, name
        assert state.tab == params.get("tab", "compare") and (not state.text or state.text in texts), name
        assert 1 <= state.layer <= 12 and 1 <= state.head <= 12
    headings = [re.sub(r"[^\w -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", lesson, re.M)]
    for anchor in re.findall(r"\]\(#([\w-]+)\)", lesson):  # the lesson's own headings
        assert anchor in headings, anchor


def test_the_app_opens_each_link_of_the_lesson(built_page):
    """Through the page's own load event (what a visit with the link runs), on the tiny models:
    the text is compared and the tab opened."""
    demo, _ = built_page  # with the shipped examples
    opened = next(fn for fn in demo.fns.values() if fn.name == "opened_values")
    components = {block.elem_id: block for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    for name, url in _links().items():
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        values = opened.fn(request=SimpleNamespace(query_params=params))
        assert values[components["page-tab"]] == params.get("tab", "compare"), name
        assert values[components["link-note"]] == "", name
        if "text" in params:
            assert values[components["text"]] == params["text"], name
            assert values[components["compare-status"]].startswith("Baseline found"), name


# --------------------------------------------------------------------------------------------
# The README's numbers
# --------------------------------------------------------------------------------------------

def test_the_readme_states_the_numbers_the_app_uses():
    text = _flat(README.read_text(encoding="utf-8"))

    def number(pattern: str) -> int:
        found = re.search(pattern, text)
        assert found, pattern
        return int(found.group(1).replace(",", ""))

    examples = load_examples()
    disagreeing = number(r"disagree on the next (\d+)\.")
    assert number(r"one of (\d+) example sentences") == len(examples)
    assert number(r"example sentences in (\d+) languages") == len({item["language"] for item in examples})
    assert [bool(item.get("disagree")) for item in examples] == [False] + [True] * disagreeing + [False] * (
        len(examples) - disagreeing - 1)
    assert number(r"(\d+) are real WikiANN test sentences") == sum("sample" in item for item in examples)
    assert number(r"Up to ([\d,]+) characters and") == TEXT_LIMIT
    assert number(r"characters and ([\d,]+) sub-word tokens per request") == TOKEN_BUDGET
    assert number(r"\(the first (\d+) of the sentence\)") == TOKEN_LIMIT
    assert number(r"at most (\d+) differing sentences per language") == SAMPLE_LIMIT
    assert number(r"up to (\d+) MB and") * 1_000_000 == UPLOAD_BYTES_LIMIT
    assert number(r"MB and ([\d,]+) sentences") == UPLOAD_SENTENCE_LIMIT
    assert number(r"at most the first ([\d,]+) characters of the text") == LINK_TEXT_LIMIT
    assert number(r"one call, default (\d+)\)") == COMPARE_BATCH
    assert re.search(r"disagree on each of the next (\d+) ", _flat(_lesson())).group(1) == str(disagreeing)
    steps = re.search(r"walks a class through (\w+) steps", text).group(1)
    assert steps == ["one", "two", "three", "four", "five", "six", "seven"][len(tour.STEPS) - 1]
    record = json.loads((RUNS_DIR / "full-baseline-s13.json").read_text(encoding="utf-8"))
    targets = len(set(record["scores"]) - {record["source_language"]})
    assert number(r"evaluated zero-shot on (\d+) more languages") == targets
    assert number(r"across the (\d+) target languages") == targets


# --------------------------------------------------------------------------------------------
# Measured with the shipped checkpoints (slow)
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    from serve.slots import load_slots

    fusion = CHECKPOINTS / "fusion-l11"
    if not (BASELINE_DIR / "tagger_config.json").is_file() or not (fusion / "tagger_config.json").is_file():
        pytest.skip("the shipped checkpoints are not there")
    return load_slots(BASELINE_DIR, fusion, merge=False)


def _example(language: str, wikiann: bool = True) -> dict:
    return next(item for item in load_examples() if item["language"] == language and ("sample" in item) == wikiann)


@pytest.mark.slow
def test_the_models_disagree_where_the_examples_say_and_the_lesson_table_is_what_the_app_shows(shipped):
    from serve.compare import compare_text
    from ui.tabs.compare import right_answer_values

    lesson = _lesson()
    for number, item in enumerate(load_examples(), 1):
        view = compare_text(shipped, item["text"])
        differs = [f"{text} ({label})" for text, label in view.disagreement if label not in (None, "same")]
        assert bool(differs) == bool(item.get("disagree")), item["text"]
        note = right_answer_values(load_examples(), view).answer_note
        right = re.search(r"baseline (\d+) of (\d+), fusion (\d+) of \d+", note).groups()
        info = language_info(item["language"])
        row = (f"| {number} | [{info.name}][e{number}] | {info.script} | {'; '.join(differs) or '—'} | "
               f"{right[0]} / {right[2]} of {right[1]} | {'WikiANN' if 'sample' in item else 'by hand'} |")
        assert row in lesson, row
        if number == 12:  # the lesson's Arabic example, quoted in its plan
            assert "Found exactly (same words, same type): baseline 1 of 3, fusion 3 of 3" in note
            assert "baseline 1 of 3, fusion 3 of 3" in _flat(lesson)
    rows = {(row.side, row.text): row.label for row in compare_text(shipped, _example("de")["text"]).rows}
    assert rows[("baseline", "Vizepräsident")] == "ORG"  # "marks Vizepräsident as an organisation"
    rows = {(row.side, row.text): row.label for row in compare_text(shipped, _example("el")["text"]).rows}
    assert rows[("fusion", "ομοσπονδιακός")] == "ORG" and rows[("fusion", "Σάο Πάολο")] == "PER"
    assert rows[("baseline", "Σάο Πάολο")] == "LOC"


@pytest.mark.slow
def test_the_gate_the_head_and_the_layers_the_lesson_describes(shipped):
    """Inside: every token's gate share; layer 10, head 10: the surname reads the first name;
    Layers: what the probes of layers 11 and 12 read on two words."""
    from serve.compare import compare_text
    from serve.explanations import ExplanationCache
    from serve.probes import GridCache, load_probe_slot

    arabic = _example("ar")
    view = compare_text(shipped, arabic["text"])
    explanation = ExplanationCache().get(shipped["fusion"], view, 0)
    shares = [round(100 * float(share)) for share in explanation.gate_share]
    low, high = min(shares), max(shares)
    assert f"every token takes {low}–{high} % from the last layer" in _flat(_lesson())
    assert 70 <= 100 - high <= 100 - low <= 80  # "about three quarters, from layer 11"
    words = [view.text[start:end] for start, end in view.words]
    surname = [i for i, word in enumerate(explanation.token_words) if word == words.index("بوروشنكو")]
    first_name = [i for i, word in enumerate(explanation.token_words) if word == words.index("بترو")]
    weight = explanation.attentions[9, 9][surname][:, first_name].sum(-1)  # layer 10, head 10
    assert weight.mean() > 0.5  # "most of their weight"

    grid = GridCache().get(load_probe_slot(), view, 0)
    column = {word.text: index for index, word in enumerate(grid.words)}
    assert [grid.tags[layer][column["بوروشنكو"]] for layer in (11, 12)] == ["I-PER", "B-LOC"]
    assert [grid.tags[layer][column["الأوكرانيين"]] for layer in (11, 12)] == ["B-ORG", "B-LOC"]


@pytest.mark.slow
def test_the_results_the_readme_and_the_lesson_state():
    """What the Results tab shows for the shipped runs (its default group, fusion-l11)."""
    from serve.runs import default_choice, read_results
    from ui.tabs import results

    records, _ = read_results(RUNS_DIR)
    group, fusion = default_choice(records, "fusion-l11")
    view = results.results_view(RUNS_DIR, records, group, fusion, "script", 11)
    table = view.table.set_index("language")
    targets = table.drop(index="en")
    above = set(targets.index[targets["Δ 95% low"] > 0])
    below = set(targets.index[targets["Δ 95% high"] < 0])
    assert (len(targets), above, below) == (38, {"ar", "fa"}, set())
    lesson, readme = _flat(_lesson()), _flat(README.read_text(encoding="utf-8"))
    assert "Arabic and Persian gain clearly, no language loses clearly" in readme
    assert "the 95 % interval contains 0" in readme and "interval contains 0" in view.summary
    summary = _flat(view.summary)
    found = re.search(r"baseline ([\d.]+) ± [\d.]+, fusion-l11 ([\d.]+) ± .*Δ = ([+-][\d.]+), 95 % interval "
                      r"\[([+-][\d.]+), ([+-][\d.]+)\]", summary)
    baseline, fused, delta, low, high = found.groups()
    assert (f"averages {fused} F1 against the baseline's {baseline}: Δ = {delta}, and its 95 % interval "
            f"[{low}, {high}] contains 0") in lesson
    for code, name in (("ar", "Arabic"), ("fa", "Persian")):
        row = table.loc[code]
        assert (f"{name} (Δ {row['Δ F1']:.1f}, interval {row['Δ 95% low']:.1f} to "
                f"{row['Δ 95% high']:.1f})") in lesson
