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
