"""ui/tabs/errors.py: the seeds and languages the Errors tab offers follow the group of runs."""

from conftest import make_record  # noqa: E402

from ui.tabs.errors import ErrorChoices, error_choices, language_choices, seed_choices


def _records() -> list[dict]:
    """Two groups run apart: the full recipe on German and Arabic (seeds 13, 14), a small one on
    German and Chinese (seed 7)."""
    full = [make_record(f"{model}-s{seed}", model, layer, "test", {"en": 0.8, "de": 0.6, "ar": 0.4}, seed)
            for seed in (13, 14) for model, layer in (("baseline", None), ("fusion-l1", 1))]
    small = [make_record(f"small-{model}-s7", model, layer, "test", {"en": 0.7, "zh": 0.3}, 7,
                         train_sentences=2000, study="seed-study")
             for model, layer in (("baseline", None), ("fusion-l1", 1))]
    return full + small


def test_the_choices_follow_the_chosen_group():
    from fusion.studies.results import groups

    records = _records()
    full, small = [group.key for group in groups(records)]
    assert seed_choices(records, full) == [13, 14] and language_choices(records, full) == ["ar", "de", "en"]
    assert error_choices(records, full) == ErrorChoices([13, 14], 13, ["ar", "de", "en"], "de")
    # another group: its own seeds and languages, not the first group's
    assert error_choices(records, small, 14, "de") == ErrorChoices([7], 7, ["en", "zh"], None)
    assert error_choices(records, small, 7, "zh") == ErrorChoices([7], 7, ["en", "zh"], "zh")
    # back: the picks stay when the group has them
    assert error_choices(records, full, 14, "ar") == ErrorChoices([13, 14], 14, ["ar", "de", "en"], "ar")
    assert error_choices(records, "no|such|group") == ErrorChoices([], None, [], None)


def test_the_groups_are_told_apart_by_the_start_of_their_names():
    from fusion.studies.results import groups

    from ui.common import group_options

    labels = [label for label, _ in group_options(groups(_records()))]
    assert labels == ["seed-study · ≤ 100 test · en 2000 sent × 3 ep", "zero-shot · ≤ 100 test · en 20000 sent × 3 ep"]


def test_a_picked_sentence_reads_in_its_own_direction_and_none_picked_shows_no_panes():
    from fusion.evaluation.error_analysis import differing_sentences

    from ui.error_browser import Picked, picked_panes, sentence_frame, sentence_values

    tokens = [["ذهب", "إلى", "(", "باريس", ")"], ["Angela", "visited", "Paris"]]
    gold = [["O", "O", "O", "B-LOC", "O"], ["B-PER", "O", "B-LOC"]]
    predicted = {"baseline": [["O", "O", "O", "O", "O"], ["O", "O", "B-LOC"]],
                 "fusion": [["O", "O", "O", "B-LOC", "O"], ["B-PER", "O", "O"]]}
    views = differing_sentences([0, 1], tokens, gold, predicted)
    assert list(sentence_frame(views).columns)[0] == "#"
    arabic, english = (picked_panes(sentence_values(views, row)) for row in (0, 1))
    assert arabic["gold"].rtl and arabic["gold"].visible and arabic["send"].visible
    assert [(item["token"], item["class_or_confidence"]) for item in arabic["gold"].value
            if item["class_or_confidence"]] == [("باريس", "LOC")]
    assert not english["fusion"].rtl and english["text"] == "Angela visited Paris"
    nothing = picked_panes(None)
    assert not any(nothing[key].visible for key in ("gold", "baseline", "fusion", "send")) and nothing["text"] == ""
    assert picked_panes(Picked(None, None, None, ""))["gold"].value is None
