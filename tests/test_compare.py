"""fusion.tagging.agreement: one definition of agreement for the status line, the view and the table."""

from fusion.tagging.agreement import (BOUNDARY_DIFFERS, SAME, TYPE_DIFFERS, compare_entities,
                                      highlight_segments, only)
from fusion.tagging.predict import Entity

TEXT = "Angela Merkel met Tim Cook in Paris at Apple"
BASELINE = [Entity("Angela Merkel", "PER", 0, 13, 0.9), Entity("Tim", "PER", 18, 21, 0.8),
            Entity("Paris", "LOC", 30, 35, 0.7)]
FUSION = [Entity("Angela Merkel", "PER", 0, 13, 0.9), Entity("Tim Cook", "PER", 18, 26, 0.8),
          Entity("Paris", "ORG", 30, 35, 0.6), Entity("Apple", "ORG", 39, 44, 0.5)]


def test_highlight_segments_cover_the_text():
    text = "Angela Merkel visited Paris."
    segments = highlight_segments(text, [Entity("Paris", "LOC", 22, 27, 0.9),
                                         Entity("Angela Merkel", "PER", 0, 13, 0.8)])
    assert "".join(s.text for s in segments) == text
    assert [(s.text, s.label) for s in segments] == [("Angela Merkel", "PER"), (" visited ", None),
                                                      ("Paris", "LOC"), (".", None)]


def test_one_word_for_each_kind_of_difference_everywhere():
    comparison = compare_entities(TEXT, {"baseline": BASELINE, "fusion": FUSION})
    assert "".join(s.text for s in comparison.disagreement) == TEXT
    view = {s.text: s.label for s in comparison.disagreement if s.label}
    # "Tim" vs "Tim Cook" is one boundary difference over the whole stretch, not two labels
    assert view == {"Angela Merkel": SAME, "Tim Cook": BOUNDARY_DIFFERS, "Paris": TYPE_DIFFERS,
                    "Apple": only("fusion")}
    table = {(row.side, row.text): row.agreement for row in comparison.rows}
    assert table[("baseline", "Tim")] == table[("fusion", "Tim Cook")] == BOUNDARY_DIFFERS
    assert table[("fusion", "Apple")] == only("fusion")
    assert comparison.counts == {SAME: 1, BOUNDARY_DIFFERS: 1, TYPE_DIFFERS: 1, only("fusion"): 1}
    summary = comparison.summary()
    for words in (BOUNDARY_DIFFERS, TYPE_DIFFERS, only("fusion")):
        assert words in summary  # the status line uses the view's words
    assert [row.start for row in comparison.rows] == sorted(row.start for row in comparison.rows)


def test_a_name_split_differently_is_one_boundary_difference():
    text = "Amina Juma alitembelea Nairobi"
    comparison = compare_entities(text, {
        "baseline": [Entity("Amina", "PER", 0, 5, 1), Entity("Juma", "PER", 6, 10, 1)],
        "fusion": [Entity("Amina Juma", "PER", 0, 10, 1), Entity("Nairobi", "LOC", 23, 30, 1)]})
    assert [(s.text, s.label) for s in comparison.disagreement if s.label] == [
        ("Amina Juma", BOUNDARY_DIFFERS), ("Nairobi", only("fusion"))]


def test_agreement_and_silence():
    same = compare_entities("Paris", {"baseline": [Entity("Paris", "LOC", 0, 5, 1)],
                                      "fusion": [Entity("Paris", "LOC", 0, 5, 1)]})
    assert same.summary().endswith("they agree on every one.")
    nothing = compare_entities("hello", {"baseline": [], "fusion": []})
    assert nothing.summary().endswith("neither found an entity.") and nothing.rows == []
    assert [(s.text, s.label) for s in nothing.disagreement] == [("hello", None)]
