"""ui/tabs/compare.py: the Compare tab's values, its exports and the entity table's rows (no app
built)."""

from pathlib import Path

import gradio as gr
import pandas as pd

from serve.compare import TABLE_COLUMNS, CompareService, compare_text
from ui.common import entity_colours
from ui.link import InsidePlace
from ui.tabs import compare


def test_compare_writes_the_three_exports(models, tmp_path, monkeypatch):
    monkeypatch.setattr(compare, "export_folder", lambda: tmp_path)
    view = compare_text(models, "Angela Merkel visited <b>Paris</b>.")
    titles, colours = {"baseline": "Base", "fusion": "Fused"}, entity_colours(models)
    files = compare.write_files(view, titles, colours)
    page = Path(files.html).read_text(encoding="utf-8")
    assert "<b>" not in page and "</b>" not in page and "&lt;" in page and "Where they disagree" in page
    assert "<h2>Base</h2>" in page and "<h2>Fused</h2>" in page
    table = pd.read_csv(files.csv)
    assert list(table.columns) == TABLE_COLUMNS and len(table) == len(view.table)
    assert files.png is None  # the picture is drawn when asked for
    drawn = compare.write_files(view, titles, colours, picture=True)
    assert Path(drawn.png).read_bytes().startswith(b"\x89PNG") and drawn.html == files.html
    assert "**" not in view.summary and view.summary.startswith("Baseline found")
    values = compare.answer_values(view)
    assert set(values._fields) == {"status", "baseline", "fusion", "disagreement"}
    assert values.baseline == view.highlights["baseline"]
    assert not any(isinstance(value, gr.components.Component) for value in values)  # plain: batchable
    layout = compare.layout_values(view)
    assert set(layout._fields) == {"baseline", "fusion", "disagreement", "downloads", "table"}
    assert layout.baseline.rtl is False
    assert compare.write_files(compare_text(models, "  "), {}, {}) is None


def test_the_downloads_and_the_picture_of_a_compared_text(models, tmp_path, monkeypatch):
    monkeypatch.setattr(compare, "export_folder", lambda: tmp_path)
    view = CompareService(models).compare("Angela Merkel visited Paris.")
    exports = compare.export_values(view, {}, {})
    assert "visited" in Path(exports.html).read_text(encoding="utf-8")  # the text, cut at the entities
    # utf-8-sig: the CSV may start with a byte-order mark (for spreadsheets)
    assert Path(exports.csv).read_text(encoding="utf-8-sig").startswith("model,entity,type,score,start,end,agreement")
    assert exports.picture.visible is True and exports.png.visible is False and exports.png.value is None
    drawn = compare.picture_values(view, {}, {})
    assert drawn.picture.visible is False and drawn.png.visible is True
    assert Path(drawn.png.value["path"]).read_bytes().startswith(b"\x89PNG")
    nothing = compare.export_values(compare_text(models, " "), {}, {})
    assert nothing.downloads.visible is False and nothing.html is None


def test_picked_entity_reads_a_table_row():
    row = ["fusion", "Paris", "LOC", 0.5, 22, 27, "same"]
    assert compare.picked_entity(row) == compare.EntityPick("fusion", "Paris", 22, 27)
    table = pd.DataFrame([row], columns=TABLE_COLUMNS)
    assert compare.picked_entity(None, [0, 3], table).start == 22  # from the row index
    assert compare.picked_entity(["<x>", "Paris", "LOC", 0.5, 22, 27, "same"]) is None
    assert compare.picked_entity(["fusion", "P", "LOC", 0.5, float("nan"), 1, "same"]) is None
    assert compare.picked_entity(None, [5, 0], table) is None


def test_a_picked_entity_opens_inside_on_its_sentence(models):
    view = compare_text(models, "Angela Merkel visited Paris. Olaf Scholz went to Berlin.")
    start = view.text.index("Berlin")
    pick = compare.EntityPick("baseline", "Berlin", start, start + 6)
    assert compare.inside_place(view, pick) == InsidePlace("baseline", 1, start)
    assert compare.inside_place(view, None) is None


def test_the_page_layout_follows_the_text(models):
    arabic = compare_text(models, "زار محمد علي مدينة القاهرة. ثم عاد.")
    layout = compare.layout_values(arabic)
    assert all(update.rtl for update in (layout.baseline, layout.fusion, layout.disagreement))
    assert layout.downloads.visible is False  # stale downloads hidden
    assert len(layout.table) == len(arabic.rows)


# --------------------------------------------------------------------------------------------
# Show the right answer
# --------------------------------------------------------------------------------------------

EXAMPLES = [{"language": "en", "text": "Angela Merkel visited Paris.", "gold": [["Angela Merkel", "PER"], ["Paris", "LOC"]],
             "source": "written <b>by hand</b>", "licence": "MIT"},
            {"language": "ar", "text": "زار محمد علي مدينة القاهرة.", "gold": [["محمد علي", "PER"], ["القاهرة", "LOC"]],
             "source": "WikiANN (PAN-X), ar test sentence 1", "licence": "CC BY-SA"},
            {"language": "en", "text": "No answer here."}]


def _segments(pane: gr.HighlightedText) -> list[tuple]:
    return [(item["token"], item["class_or_confidence"]) for item in pane.value]


def test_the_right_answer_of_an_example_is_shown_with_what_each_model_found(models):
    view = compare_text(models, "Angela Merkel visited Paris.")
    answer = compare.right_answer_values(EXAMPLES, view)
    assert set(answer._fields) == {"answer_note", "answer"}
    assert answer.answer.visible is True and answer.answer.rtl is False
    assert _segments(answer.answer) == [("Angela Merkel", "PER"), (" visited ", None), ("Paris", "LOC"), (".", None)]
    found = {side: compare.exactly_right(view, side, compare.gold_entities(view.text, EXAMPLES[0]["gold"]))
             for side in ("baseline", "fusion")}
    assert f"baseline {found['baseline']} of 2, fusion {found['fusion']} of 2" in answer.answer_note
    assert answer.answer_note.startswith("**The right answer:** 2 entities.")
    assert "<b>" not in answer.answer_note and "Source: written" in answer.answer_note  # the file's text, escaped
    assert answer.answer_note.endswith("Licence: MIT.")
    assert "WikiANN" not in answer.answer_note
    arabic = compare.right_answer_values(EXAMPLES, compare_text(models, "  زار محمد علي مدينة القاهرة.\n"))
    assert arabic.answer.rtl is True and ("القاهرة", "LOC") in _segments(arabic.answer)  # as given, give or take spaces
    assert "automatically from Wikipedia" in arabic.answer_note


def test_the_right_answer_is_unknown_for_typed_text(models):
    for text in ("Angela Merkel visited Paris!", "No answer here.", "Olaf Scholz"):
        answer = compare.right_answer_values(EXAMPLES, compare_text(models, text))
        assert answer.answer_note == compare.ANSWER_UNKNOWN and answer.answer.visible is False
    nothing = compare.right_answer_values(EXAMPLES, compare_text(models, " "))
    assert nothing.answer_note == compare.ANSWER_NOTHING and nothing.answer.visible is False
    hidden = compare.answer_hidden()  # after each Compare, until asked for again
    assert hidden.answer_note == "" and hidden.answer.visible is False and hidden.answer.value is None


def test_an_answer_is_placed_in_its_text_in_order():
    text = "สมชาย ใจดี เดินทางจากกรุงเทพไปเชียงใหม่เพื่อพบเพื่อนที่มหาวิทยาลัยเชียงใหม่"
    gold = [["เชียงใหม่", "LOC"], ["มหาวิทยาลัยเชียงใหม่", "ORG"]]
    places = compare.gold_entities(text, gold)
    assert [text[e.start:e.end] for e in places] == ["เชียงใหม่", "มหาวิทยาลัยเชียงใหม่"]
    assert places[0].end <= places[1].start  # the city first, then the university
    assert compare.gold_entities(text, [["Paris", "LOC"]]) is None
    assert compare.gold_entities(text, gold[::-1]) is None  # out of order: not there after the university
    assert compare.example_of(EXAMPLES, "No answer here.") is None and compare.example_of(EXAMPLES, None) is None


def test_show_the_right_answer_is_a_private_event_and_a_new_compare_hides_it(built_page):
    demo, _ = built_page  # the shipped examples carry their right answers
    reveal = [fn for fn in demo.fns.values() if fn.name == "on_right_answer"]
    assert len(reveal) == 1 and reveal[0].api_visibility == "private"
    assert [o.elem_id for o in reveal[0].outputs] == ["answer-note", "right-answer"]
    layouts = [fn for fn in demo.fns.values() if fn.name == "on_layout"]
    assert layouts and all("right-answer" in [o.elem_id for o in fn.outputs] for fn in layouts)
