"""ui/export.py: the comparison as an HTML page, a CSV table and a PNG picture."""

import csv
import io
import os
import re
import time

import pytest
from PIL import Image

from pathlib import Path

from fusion.tagging.agreement import EntityRow, Segment
from ui import export
from ui.common import ENTITY_COLOURS

HOSTILE = "<script>alert(1)</script>"
COLOURS = {"PER": "#8ecae6", "LOC": "#90be6d"}
PALETTE = {kind: ENTITY_COLOURS[kind] for kind in ("PER", "ORG", "LOC")}


def export_rgb(colour: str) -> tuple:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def segments(text: str, spans) -> tuple:
    """The whole text cut at (start, end, label) spans."""
    out, position = [], 0
    for start, end, label in spans:
        if start > position:
            out.append(Segment(text[position:start], None))
        out.append(Segment(text[start:end], label))
        position = end
    if position < len(text):
        out.append(Segment(text[position:], None))
    return tuple(out)


def comparison(text: str, spans, direction: str = "ltr", colours=None, title="Baseline") -> export.ComparisonExport:
    rows = tuple(EntityRow("baseline", text[s:e], label, 0.9, s, e, "only baseline") for s, e, label in spans)
    panels = (export.Panel(title, segments(text, spans), colours or COLOURS),
              export.Panel("Fusion", segments(text, []), colours or COLOURS))
    return export.ComparisonExport(text, direction, "Baseline found 1 entity, fusion 0.", panels, rows)


def test_html_escapes_everything_from_a_user_or_a_checkpoint():
    text = f"{HOSTILE} visited Paris & <b>Berlin</b>"
    hostile_label = '<img src=x onerror="alert(2)">'
    page = export.comparison_html(comparison(
        text, [(0, len(HOSTILE), hostile_label), (len(HOSTILE) + 9, len(HOSTILE) + 14, "LOC")],
        colours={hostile_label: "red;background:url(https://evil)", "LOC": "#90be6d"},
        title="</h2><script>alert(3)</script>"))
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&amp; &lt;b&gt;Berlin" in page
    assert "evil" not in page  # a colour that is not "#hex" never reaches a style attribute
    assert f"background:{export.PLAIN_COLOUR}" in page
    assert "default-src 'none'" in page  # and even then, the page runs no script
    assert "<mark style=\"background:#90be6d\">Paris<span class=\"label\">LOC</span></mark>" in page


def test_html_keeps_the_direction_and_lists_every_entity():
    text = "זאב נסע לירושלים"
    page = export.comparison_html(comparison(text, [(8, 16, "LOC")], direction="rtl"))
    assert page.count('dir="rtl"') == 2  # both panels
    assert '<td dir="auto">לירושלים</td>' in page and page.count("<tr>") == 2  # header + one entity
    assert "Neither model found an entity" in export.comparison_html(comparison("plain text", []))


def test_right_to_left_text_keeps_its_order_in_every_file(tmp_path):
    """Hebrew with brackets and a Latin name: the page marks its direction (each cell its own),
    the CSV holds the text in logical order behind a byte-order mark (so a spreadsheet reads it as
    UTF-8), and the picture lays the first word out at the right."""
    text = "זאב (IBM) נסע לירושלים"
    files = export.write_exports(comparison(text, [(5, 8, "ORG"), (14, 22, "LOC")], direction="rtl",
                                                 colours=PALETTE), tmp_path)
    page = Path(files.html).read_text(encoding="utf-8")
    assert '<p class="text" dir="rtl">' in page and '<td dir="auto">IBM</td>' in page
    raw = Path(files.csv).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][0] == "model" and [row[1] for row in rows[1:]] == ["IBM", "לירושלים"]
    picture = Image.open(files.png).convert("RGB")
    pixels = picture.load()
    boxes = {}  # the first line of each colour: the entity's box (the legend comes later)
    for kind in ("ORG", "LOC"):
        rgb = export_rgb(PALETTE[kind])
        top = next(y for y in range(picture.height) if any(pixels[x, y] == rgb for x in range(picture.width)))
        boxes[kind] = [x for x in range(picture.width) if pixels[x, top + 6] == rgb]
    # the ORG box (the entity nearer the start) lies right of the LOC box in a right-to-left line
    assert boxes["ORG"] and boxes["LOC"] and min(boxes["ORG"]) > max(boxes["LOC"])


def test_csv_columns_and_formula_guard():
    text = "=HYPERLINK(\"x\") met Paris"
    table = export.entity_csv(comparison(text, [(0, 15, "PER"), (20, 25, "LOC")]).rows)
    rows = list(csv.reader(io.StringIO(table)))
    assert rows[0] == export.CSV_COLUMNS == ["model", "entity", "type", "score", "start", "end", "agreement"]
    assert len(rows) == 3 and all(len(row) == len(export.CSV_COLUMNS) for row in rows)
    assert rows[1][1] == "'=HYPERLINK(\"x\")"  # a spreadsheet shows it, never runs it
    assert rows[2][1:6] == ["Paris", "LOC", "0.9", "20", "25"]


def test_png_draws_every_panel_and_grows_with_the_text():
    short = export.comparison_png(comparison("Angela visited Paris.", [(0, 6, "PER")]))
    long = export.comparison_png(comparison("Angela visited Paris. " * 60, [(0, 6, "PER")]))
    assert short.startswith(b"\x89PNG")
    small, big = Image.open(io.BytesIO(short)), Image.open(io.BytesIO(long))
    assert small.width == big.width == export.WIDTH and big.height > small.height + 200
    # the PER colour is on the picture: the entity's box and the legend's swatch
    colours = {colour for _, colour in small.convert("RGB").getcolors(1 << 20)}
    assert (0x8e, 0xca, 0xe6) in colours


@pytest.mark.skipif(not export.font_paths(), reason="no Noto fonts installed")
def test_each_script_gets_a_font_that_has_it():
    names = {char: export.font_for(char).name for char in ("a", "北", "ب", "ש", "क")}
    assert names["a"] == "NotoSans-Regular.ttf"
    assert "CJK" in names["北"] and "Arabic" in names["ب"] and "Hebrew" in names["ש"]
    assert "Devanagari" in names["क"]
    runs = export.font_runs("नमस्ते Paris")  # the virama and vowel signs stay with their letters
    assert [text for text, _ in runs] == ["नमस्ते ", "Paris"]


def test_hostile_and_odd_text_draws(tmp_path):
    text = HOSTILE + " 😀 \u200b ‮ \n\n" + "李明在北京大学工作" * 30
    data = export.comparison_png(comparison(text, [(0, 8, "PER")]))
    assert Image.open(io.BytesIO(data)).height > 300


def test_write_exports_names_files_by_content_and_removes_old_ones(tmp_path):
    first = export.write_exports(comparison("Angela visited Paris.", [(0, 6, "PER")]), tmp_path)
    again = export.write_exports(comparison("Angela visited Paris.", [(0, 6, "PER")]), tmp_path)
    assert first == again and len(list(tmp_path.iterdir())) == 3
    assert re.fullmatch(r"comparison-[0-9a-f]{12}\.html", os.path.basename(first.html))
    old = time.time() - 2 * export.KEEP_SECONDS
    for path in (first.html, first.csv, first.png):
        os.utime(path, (old, old))
    other = export.write_exports(comparison("Berlin", [(0, 6, "LOC")]), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        os.path.basename(p) for p in (other.html, other.csv, other.png))


def test_png_without_any_font_file_still_draws(monkeypatch):
    monkeypatch.setattr(export, "font_paths", lambda: ())
    monkeypatch.setattr(export, "BOLD_FONT", export.NOTO / "missing.ttf")
    export.font_for.cache_clear()
    try:
        data = export.comparison_png(comparison("Angela visited Paris.", [(0, 6, "PER")]))
    finally:
        export.font_for.cache_clear()
    assert Image.open(io.BytesIO(data)).width == export.WIDTH
