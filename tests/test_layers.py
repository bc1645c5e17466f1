"""What the layer probes show (fusion/studies/probe_results.py) and the app's Layers views, on made-up records
and a tiny random encoder."""

import json
import math

import pandas as pd
import pytest

from fusion.probing.probes import LayerProbes, ProbeConfig, save_probes
from fusion.studies.probe_results import findings, findings_text, layer_grid, layer_rows, layer_table


def _record(layer, seed, english, targets):
    scores = {"en": {"f1": english}} | {lang: {"f1": f1} for lang, f1 in targets.items()}
    return {"study": "layer-probe", "seed": seed, "scores": scores,
            "checkpoint": {"model": f"probe-l{layer}", "training": {"probe_layer": layer, "dev_f1": english}}}


def _study():
    # English rises with depth; the targets rise less: the ratio falls with depth
    return [_record(layer, seed, 0.3 + 0.05 * layer + 0.01 * seed, {"de": 0.3 + 0.02 * layer, "zh": 0.2})
            for layer in range(5) for seed in (0, 1)]


def test_layer_rows_average_seeds_and_take_the_ratio_per_seed():
    rows = layer_rows(_study() + [{"study": "zero-shot", "scores": {}, "checkpoint": {"training": {}}}])
    assert [r.layer for r in rows] == list(range(5)) and rows[0].languages == 2
    first = rows[0]
    assert first.english.mean == pytest.approx(30.5)  # mean of 30 and 31
    assert first.english.n == 2 and first.targets.mean == pytest.approx(25.0)
    assert first.ratio.mean == pytest.approx((0.25 / 0.30 + 0.25 / 0.31) / 2)
    table = layer_table(rows)
    assert list(table["layer"]) == list(range(5)) and table["seeds"].tolist() == [2] * 5


def test_findings_say_which_way_the_ratio_goes():
    rows = layer_rows(_study())
    found = findings(rows)
    assert found.best_english == 4 and found.best_ratio == 0
    assert found.lower_ratio > found.upper_ratio and found.ratio_correlation < 0
    assert "transfers *more*" in findings_text(rows)
    # the other way round: the targets catch up with depth
    flipped = [_record(layer, 0, 0.5, {"de": 0.1 + 0.1 * layer}) for layer in range(5)]
    assert "transfers *less*" in findings_text(layer_rows(flipped))
    assert findings(layer_rows(flipped[:2])) is None


def test_the_grid_groups_languages_by_family_after_english():
    grid = layer_grid(_study())
    assert grid.languages[0] == "en" and set(grid.languages) == {"en", "de", "zh"}
    assert grid.f1.shape == (5, 3) and not any(math.isnan(v) for v in grid.f1.ravel())
    assert grid.families[grid.languages.index("zh")] == "Sino-Tibetan"


def test_the_layers_view_reads_a_sentence_with_gate_shares(tmp_path, tiny_bert, make_tagger):
    from fusion.model.encoders import build_encoder
    from serve.compare import untagged_view
    from serve.explanations import ExplanationCache
    from serve.probes import GridCache, load_probe_slot
    from serve.slots import TaggerSlot
    from ui.tabs import layers

    explanations = ExplanationCache()

    def layers_view(slot, slots, text, sentence, cache=None):
        return layers.layers_view(slot, slots, untagged_view(slots, text), sentence,
                                  cache if cache is not None else GridCache(), explanations)

    encoder, _ = build_encoder(tiny_bert)
    probes = LayerProbes(ProbeConfig(encoder=tiny_bert, n_layers=encoder.config.num_hidden_layers + 1,
                                     hidden=encoder.config.hidden_size))
    probes.info = {"training": {"train_sentences": 12, "seed": 5}}
    slot = load_probe_slot(save_probes(probes, tmp_path / "probes"))
    assert slot.ready, slot.error
    slots = {"fusion": TaggerSlot("fusion", "tiny-fusion", tagger=make_tagger(tiny_bert, fusion_layer=1))}
    cache = GridCache()
    text = "Angela Merkel visited Paris. The New York Times wrote about it."
    note, figure, table, picker = layers_view(slot, slots, text, 1, cache)
    assert "Sentence 2 of 2" in note and "12 English sentences" in note
    assert list(table["word"]) == ["The", "New", "York", "Times", "wrote", "about", "it", "."]
    assert all(share.endswith("%") for share in table["gate: share of last layer"])
    assert len(figure.data) == 2  # the grid and the gate bars
    layers_view(slot, slots, text, 1, cache)
    assert cache.computed == 1  # the second look comes from the cache
    # shared views: a sentence's view is made once, its grid serialised (as Gradio sends it)
    from serve.cache import BoundedCache

    views, view = BoundedCache(4), untagged_view(slots, text)
    first = layers.layers_view(slot, slots, view, 1, cache, explanations, views=views)
    again = layers.layers_view(slot, slots, view, 1, cache, explanations, views=views)
    assert views.computed == 1 and again is first and first.note == note
    assert json.loads(first.grid.plot)["data"][0]["type"] == figure.data[0].type
    layers.layers_view(slot, slots, view, 0, cache, explanations, views=views)
    assert views.computed == 2
    assert "Compare a text first" in layers_view(slot, slots, "  ", 0, cache)[0]
    # a right-to-left sentence's words run right to left, under the grid too (the gate bars)
    _, figure, *_ = layers_view(slot, slots, "ذهب باراك أوباما إلى باريس.", 0, cache)
    assert figure.layout.xaxis.autorange == figure.layout.xaxis2.autorange == "reversed"
    broken = load_probe_slot(tmp_path / "missing")
    assert not broken.ready and "not loaded" in layers_view(broken, slots, text, 0)[0]


def test_the_results_section_reads_probe_runs(tmp_path):
    from ui.tabs import results_layer_probes

    summary, *_, table = results_layer_probes.view(tmp_path / "nothing-here", [])
    assert "No layer-probe runs" in summary and isinstance(table, pd.DataFrame) and table.empty
