"""Layer probes: all layers from one encoder pass, a probe that learns a separable toy task, the
probe file round trip, the probe study's run records, and the emergence grid."""

import json
import random

import numpy as np
import pytest
import torch

from fusion.evaluation.predictions import f1_from_counts, read_sidecar
from fusion.evaluation.runs import load_runs
from fusion.model.encoders import build_encoder
from fusion.probing.emergence import emergence, word_gate_share
from fusion.probing.probe_runs import ProbeStudyOptions, run_probe_study
from fusion.probing.probes import (CountingEncoder, LayerProbes, ProbeConfig, ProbeError, ProbeTraining,
                                   layer_f1, layer_features, load_probes, save_probes, train_probes)
from fusion.tagging.predict import predict

# a toy language where the tag follows from the word: separable from the embeddings on
NAMES = {"angela": "PER", "merkel": "PER", "paris": "LOC", "berlin": "LOC", "times": "ORG"}
FILLER = ["the", "a", "visited", "in", "new", "york", "b", "c"]


def _toy_sentences(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [rng.choice(FILLER) for _ in range(rng.randint(2, 5))]
        words.insert(rng.randrange(len(words) + 1), rng.choice(list(NAMES)))
        out.append((words, [f"B-{NAMES[w]}" if w in NAMES else "O" for w in words]))
    return out


def _write_panx(root, language, split, sentences):
    path = root / language / f"{split}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join("\n".join(f"{language}:{w}\t{t}" for w, t in zip(*s)) for s in sentences)
                    + "\n", encoding="utf-8")


def _config(encoder):
    return ProbeConfig(encoder="tiny", n_layers=encoder.config.num_hidden_layers + 1,
                       hidden=encoder.config.hidden_size)


def test_every_layer_comes_from_one_encoder_pass(tiny_bert):
    encoder, tokenizer = build_encoder(tiny_bert)
    sentences = [["Angela", "Merkel", "visited", "Paris", "."], ["北京"], ["a", "b", "c"]]
    counting = CountingEncoder(encoder)
    words = layer_features(counting, tokenizer, sentences, batch_size=64)
    assert counting.calls == 1  # three sentences of similar length: one batch, one pass
    assert words.features.shape == (9, encoder.config.num_hidden_layers + 1, encoder.config.hidden_size)
    assert words.lengths == [5, 1, 3] and bool(words.kept.all())
    # the rows are each layer's hidden state at the word's label position
    encoding = tokenizer(sentences[0], is_split_into_words=True)
    with torch.no_grad():
        out = encoder(input_ids=torch.tensor([encoding["input_ids"]]), output_hidden_states=True)
    first_piece = encoding.word_ids().index(3)  # "Paris": one piece, no bare "▁" before it
    for layer in (0, encoder.config.num_hidden_layers):
        expected = out.hidden_states[layer][0, first_piece]
        assert torch.allclose(words.features[3, layer].float(), expected, atol=1e-2)


def test_a_long_sentence_is_read_through_windows(tiny_bert):
    encoder, tokenizer = build_encoder(tiny_bert)
    words = layer_features(encoder, tokenizer, [["paris"] * 700])  # > 512 tokens
    assert words.features.shape[0] == 700 and bool(words.kept.all())
    assert float(words.features[-1].float().abs().sum()) > 0  # the last words have features too


def test_a_probe_learns_a_separable_toy_task(tiny_bert):
    encoder, tokenizer = build_encoder(tiny_bert)
    train, dev = _toy_sentences(300, 0), _toy_sentences(60, 1)
    train_words = layer_features(encoder, tokenizer, [w for w, _ in train])
    dev_words = layer_features(encoder, tokenizer, [w for w, _ in dev])
    config = _config(encoder)
    probes, record = train_probes(config, train_words, [t for _, t in train], dev_words,
                                  [t for _, t in dev], ProbeTraining(seed=0, epochs=6, learning_rate=1e-2,
                                                                     batch_size=64), log=lambda _: None)
    assert len(record["best_epoch"]) == config.n_layers and len(record["history"]) == 6
    scores = layer_f1(probes, dev_words, [t for _, t in dev])
    assert scores == pytest.approx(record["dev_f1"])  # each probe kept its best epoch's weights
    assert scores[0] > 0.9  # the embedding layer alone tells the names apart
    untrained = LayerProbes(config)
    assert max(layer_f1(untrained, dev_words, [t for _, t in dev])) < 0.5


def test_the_probe_file_round_trips_and_refuses_tampering(tmp_path, tiny_bert):
    encoder, tokenizer = build_encoder(tiny_bert)
    probes = LayerProbes(_config(encoder))
    probes.standardise_on(torch.randn(50, probes.config.n_layers, probes.config.hidden))
    probes.info = {"training": {"seed": 3}}
    directory = save_probes(probes, tmp_path / "probes")
    loaded = load_probes(directory)
    features = torch.randn(7, probes.config.n_layers, probes.config.hidden)
    assert torch.equal(probes(features), loaded(features))
    assert loaded.info["training"]["seed"] == 3

    from safetensors.torch import load_file, save_file

    weights = load_file(str(directory / "probes.safetensors"))
    for change, message in ((lambda w: w.update(weight=w["weight"][:, :, :3].contiguous()), "config implies"),
                            (lambda w: w["bias"].fill_(float("nan")), "NaN"),
                            (lambda w: w["std"].fill_(0.0), "positive"),
                            (lambda w: w.pop("mean"), "expected tensors")):
        tampered = {k: v.clone() for k, v in weights.items()}
        change(tampered)
        save_file(tampered, str(directory / "probes.safetensors"))
        with pytest.raises(ProbeError, match=message):
            load_probes(directory)
    (directory / "probe_config.json").write_text('{"format_version": 1, "config": {"labels": ["X"]}}')
    with pytest.raises(ProbeError, match="probe_config.json"):
        load_probes(directory)


def test_the_probe_study_writes_valid_resumable_run_records(tmp_path, tiny_bert):
    data = tmp_path / "panx"
    _write_panx(data, "en", "train", _toy_sentences(120, 0))
    _write_panx(data, "en", "dev", _toy_sentences(30, 1))
    for language, seed in (("en", 2), ("xx", 3)):
        _write_panx(data, language, "test", _toy_sentences(20, seed))
    options = ProbeStudyOptions(data=str(data), work_dir=str(tmp_path / "work"),
                                runs_dir=str(tmp_path / "runs"), seeds="13,14", encoder=tiny_bert,
                                max_test_sentences=15, epochs=2)
    messages = []
    records = run_probe_study(options, log=messages.append)
    layers = build_encoder(tiny_bert)[0].config.num_hidden_layers + 1
    assert len(records) == 2 * layers
    stored, warnings = load_runs(tmp_path / "runs")
    assert not warnings and len(stored) == 2 * layers
    record = next(r for r in stored if r["name"] == "probe-l2-s14")
    assert record["study"] == "layer-probe" and record["checkpoint"]["model"] == "probe-l2"
    assert record["checkpoint"]["training"]["probe_layer"] == 2 and record["seed"] == 14
    assert record["data"]["sentences"] == {"en": 15, "xx": 15}
    sidecar = read_sidecar(tmp_path / "runs" / record["predictions"]["file"])
    for language, item in sidecar.languages.items():  # the counts give the stored F1 exactly
        assert f1_from_counts(item.counts) == pytest.approx(record["scores"][language]["f1"])
    # a second run reuses every step: nothing is computed again, the records are the same
    again = []
    run_probe_study(options, log=again.append)
    assert not again[:-1], again
    assert json.loads((tmp_path / "runs" / "probe-l2-s14.json").read_text())["scores"] == record["scores"]


def test_a_tuned_taggers_encoder_is_probed_as_its_own_curve(tmp_path, tiny_bert, make_tagger):
    """Layers after tuning: probes read a (fully) tuned tagger's encoder; its records name that
    tagger and stay apart from the frozen encoder's curve."""
    from fusion.model.checkpoint import checkpoint_hash, save_tagger
    from fusion.studies.probe_results import layer_rows, probed_encoders

    data = tmp_path / "panx"
    _write_panx(data, "en", "train", _toy_sentences(60, 0))
    _write_panx(data, "en", "dev", _toy_sentences(20, 1))
    _write_panx(data, "en", "test", _toy_sentences(10, 2))
    tagger = make_tagger(tiny_bert, tuning="full")
    with torch.no_grad():  # a tuned encoder: its layers differ from the frozen one's
        for parameter in tagger.encoder.parameters():
            if parameter.requires_grad:  # its own copies; the frozen word embeddings are shared by every test
                parameter.add_(0.05 * torch.randn_like(parameter))
    tagger.checkpoint_info = {"training": {"seed": 13}}
    save_tagger(tagger, tmp_path / "full-baseline", extra={"training": {"seed": 13}})
    common = dict(data=str(data), seeds="13", encoder=tiny_bert, max_test_sentences=10, epochs=1)
    frozen = run_probe_study(ProbeStudyOptions(work_dir=str(tmp_path / "w0"), runs_dir=str(tmp_path / "runs"),
                                               **common), log=lambda _: None)
    tuned = run_probe_study(ProbeStudyOptions(work_dir=str(tmp_path / "w1"), runs_dir=str(tmp_path / "runs"),
                                              tagger=str(tmp_path / "full-baseline"), **common), log=lambda _: None)
    assert tuned[0]["name"] == "probe-full-baseline-l0-s13"
    assert tuned[0]["checkpoint"]["training"]["tuned_by"]["sha256"] == checkpoint_hash(tmp_path / "full-baseline")
    assert tuned[0]["checkpoint"]["training"]["tuning"] == "full"
    records, warnings = load_runs(tmp_path / "runs")
    assert not warnings and len(records) == len(frozen) + len(tuned)
    assert probed_encoders(records) == [None, "full baseline s13"]
    assert len(layer_rows(records)) == len(layer_rows(records, encoder="full baseline s13")) == len(frozen)
    with pytest.raises(ValueError, match="not"):
        run_probe_study(ProbeStudyOptions(work_dir=str(tmp_path / "w2"), runs_dir=str(tmp_path / "r2"),
                                          tagger=str(tmp_path / "full-baseline"),
                                          **{**common, "encoder": "another-encoder"}), log=lambda _: None)


def test_the_emergence_grid_has_predicts_words_and_offsets(tiny_bert, make_tagger):
    encoder, tokenizer = build_encoder(tiny_bert)
    probes = LayerProbes(_config(encoder))
    text = "Angela Merkel visited Paris. The New York Times wrote about it in Berlin."
    grid = emergence(probes, encoder, tokenizer, text, sentence=1)
    fusion = make_tagger(tiny_bert, fusion_layer=1)
    prediction = predict(fusion, text, explain=True, explain_sentence=1)[0]
    sentence = prediction.sentences[1]
    expected = prediction.words[sentence.first_word:sentence.first_word + sentence.n_words]
    assert [(w.text, w.start, w.end) for w in grid.words] == [(w.text, w.start, w.end) for w in expected]
    assert grid.n_sentences == 2 and grid.sentence == 1
    assert len(grid.tags) == probes.config.n_layers and all(len(row) == len(expected) for row in grid.tags)
    assert grid.scores.shape == (probes.config.n_layers, len(expected))
    assert np.all((grid.scores > 0) & (grid.scores <= 1))
    shares = word_gate_share(prediction.explanation,
                             list(range(sentence.first_word, sentence.first_word + sentence.n_words)))
    assert len(shares) == len(expected) and all(0 < s < 1 for s in shares)
    assert emergence(probes, encoder, tokenizer, "   ").words == []


def test_where_an_entity_emerges():
    from fusion.probing.emergence import EmergenceGrid

    grid = EmergenceGrid("", [], 0, [(0, 0)], tags=[["O", "O"], ["B-LOC", "O"], ["B-ORG", "O"], ["B-LOC", "O"],
                                             ["B-LOC", "B-PER"]], scores=np.ones((5, 2)))
    assert grid.first_layer(0) == 3  # LOC from layer 3 on (layer 1's LOC did not last)
    assert grid.first_layer(1) == 4
    grid.tags[-1][1] = "O"
    assert grid.first_layer(1) is None


def test_a_sentence_of_dropped_words_keeps_its_rows(tiny_bert, make_tagger):
    from fusion.tagging.predict import tag_words

    encoder, tokenizer = build_encoder(tiny_bert)
    dropped = ["\x01", "\x7f"]  # control characters: the tokenizer keeps nothing of them
    assert not tokenizer(dropped, is_split_into_words=True, add_special_tokens=False)["input_ids"]
    words = layer_features(encoder, tokenizer, [["Paris"], dropped])
    assert words.lengths == [1, 2] and words.kept.tolist() == [True, False, False]
    assert tag_words(make_tagger(tiny_bert), [["Paris"], dropped])[1] == [("O", 1.0), ("O", 1.0)]


@pytest.mark.slow  # the shipped probe runs
def test_the_stored_probe_runs_cite_the_shipped_probes_and_their_counts_give_their_f1():
    from pathlib import Path

    from fusion.model.checkpoint import checkpoint_hash
    from fusion.probing.probes import PROBE_FILES
    from fusion.studies.probe_results import layer_rows, probe_records, probed_encoders

    repo = Path(__file__).resolve().parents[1]
    records, warnings = load_runs(repo / "assets" / "probe_runs")
    # the frozen encoder's study, and the same probes on a LoRA and a fully tuned tagger's encoder (issue 25)
    assert not warnings and probed_encoders(records) == [None, "full baseline s13", "lora baseline s13"]
    for encoder in probed_encoders(records):
        assert [row.targets.n for row in layer_rows(records, encoder=encoder)] == [3] * 13
    frozen = probe_records(records)
    shipped = repo / "checkpoints" / "probes"
    assert {r["checkpoint"]["sha256"] for r in frozen if r["seed"] == 13} == {checkpoint_hash(shipped, PROBE_FILES)}
    assert load_probes(shipped).config.n_layers == 13
    for record in records:
        sidecar = read_sidecar(repo / "assets" / "probe_runs" / record["predictions"]["file"])
        for language, item in sidecar.languages.items():
            assert f1_from_counts(item.counts) == pytest.approx(record["scores"][language]["f1"], abs=1e-9)
            assert item.sha256 == record["data"]["sha256"][language]
