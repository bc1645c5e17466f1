"""The layer-probe study: per-layer linear probes on the frozen encoder, trained on English
WikiANN and scored zero-shot on every language, stored as run records like the taggers' runs.

    python -m fusion probe --data ../shared/data/wikiann --work-dir work_runs/probes \
        --runs-dir assets/probe_runs --seeds 13,14,15

Each step's result is kept in `work_dir`, so an interrupted study continues where it stopped:
the English features (one encoder pass for all layers), each seed's probe set, and each test
language's predicted tags (all layers and seeds, again from one encoder pass). The records,
``probe-l<k>-s<seed>.json`` with their per-sentence predictions, are written last.

With ``--tagger`` the probes read that tagger's tuned encoder instead (LoRA merged, or fully
tuned), on the same data: its records are ``probe-<tuning>-<model>-l<k>-s<seed>.json`` and name
the tagger (``tuned_by``), so they sit beside the frozen encoder's in one runs folder.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from fusion.data.ner import available_languages, load_split
from fusion.evaluation.evaluate import build_run_record, dataset_hash
from fusion.evaluation.runs import PROBE_STUDY
from fusion.model.checkpoint import checkpoint_hash, load_tagger
from fusion.model.encoders import OFFLINE_ENCODER, build_encoder
from fusion.probing.probes import (PROBE_FILES, CountingEncoder, LayerProbes, ProbeConfig, ProbeTraining,
                                   WordFeatures, layer_features, load_probes, probe_tags, save_probes,
                                   split_by_lengths, train_probes)

SOURCE_LANGUAGE = "en"


@dataclass
class ProbeStudyOptions:
    """Options of `python -m fusion probe` (each field is a flag)."""

    data: str = field(metadata={"help": "PAN-X directory, e.g. ../shared/data/wikiann"})
    work_dir: str = field(default="work_runs/probes", metadata={
        "help": "features, probe sets and test predictions (resumable)"})
    runs_dir: str = field(default="assets/probe_runs", metadata={"help": "where the run records go"})
    seeds: str = field(default="13,14,15", metadata={"help": "comma-separated seeds"})
    encoder: str = field(default=OFFLINE_ENCODER, metadata={"help": "the frozen encoder to probe"})
    tagger: str | None = field(default=None, metadata={
        "help": "a tagger checkpoint: probe its tuned encoder (LoRA merged, or fully tuned) instead of "
                "the frozen one; its run names and records say which (use its own work dir)"})
    trust_unverified: bool = field(default=False, metadata={
        "help": "with --tagger: load a checkpoint saved without a fingerprint (older versions)"})
    languages: str = field(default="all", metadata={"help": '"all" or codes, e.g. "en,de,zh"'})
    max_train_sentences: int | None = field(default=None, metadata={
        "help": "first N English train sentences (all when None)"})
    max_dev_sentences: int | None = field(default=None, metadata={
        "help": "first N English dev sentences, which choose each probe's epoch (all when None)"})
    max_test_sentences: int | None = field(default=1000, metadata={
        "help": "first N test sentences per language (the shipped runs' 1,000)"})
    epochs: int = field(default=8, metadata={"help": "training epochs over the probe features"})
    batch_size: int = field(default=64, metadata={"help": "sentences per encoder pass"})


# --------------------------------------------------------------------------------------------
# Resumable pieces
# --------------------------------------------------------------------------------------------

def _save_tensors(path: Path, tensors: dict[str, torch.Tensor], sha256: str) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(partial), metadata={"sha256": sha256})
    partial.replace(path)  # never a half-written cache file


def _load_tensors(path: Path, sha256: str) -> dict[str, torch.Tensor] | None:
    """The cached tensors if they were computed from exactly this data, else None."""
    from safetensors import safe_open

    if not path.is_file():
        return None
    with safe_open(str(path), framework="pt") as handle:
        if (handle.metadata() or {}).get("sha256") != sha256:
            return None
        return {key: handle.get_tensor(key) for key in handle.keys()}


def cached_features(path: Path, counting: CountingEncoder, tokenizer, dataset, batch_size: int,
                    log=print) -> WordFeatures:
    sha256 = dataset_hash(dataset["tokens"], dataset["ner_tags"])
    stored = _load_tensors(path, sha256)
    if stored is not None:
        return WordFeatures(stored["features"], stored["lengths"].tolist(), stored["kept"])
    started = time.time()
    words = layer_features(counting, tokenizer, dataset["tokens"], batch_size)
    log(f"{path.name}: {len(words.lengths)} sentences, {len(words.kept)} words, all layers in "
        f"{time.time() - started:.0f} s")
    _save_tensors(path, {"features": words.features, "kept": words.kept,
                         "lengths": torch.tensor(words.lengths, dtype=torch.long)}, sha256)
    return words


# --------------------------------------------------------------------------------------------
# The study
# --------------------------------------------------------------------------------------------

def probe_record_training(probes: LayerProbes, layer: int) -> dict:
    """The training block of a probe's run record: the recipe plus this layer's own choice."""
    training = probes.info["training"]
    return {"language": SOURCE_LANGUAGE, "tuning": probes.info.get("tuning", "frozen"), "probe_layer": layer,
            "train_sentences": training["train_sentences"], "dev_sentences": training["dev_sentences"],
            "epochs": training["epochs"], "seed": training["seed"],
            "learning_rate": training["learning_rate"], "batch_size": training["batch_size"],
            "best_epoch": training["best_epoch"][layer], "dev_f1": training["dev_f1"][layer]}


def probed_encoder(options: ProbeStudyOptions):
    """(encoder, tokenizer, what tuned it): the frozen encoder, or a tagger's tuned one. A tagger's
    encoder must be `options.encoder`, so its curve is comparable with the frozen one."""
    if not options.tagger:
        return (*build_encoder(options.encoder), None)
    tagger = load_tagger(options.tagger, trust_unverified=options.trust_unverified)  # LoRA merged
    if tagger.config.encoder != options.encoder:
        raise ValueError(f"{options.tagger} tunes {tagger.config.encoder}, not {options.encoder}")
    tuned_by = {"path": str(options.tagger), "sha256": checkpoint_hash(options.tagger),
                "tuning": tagger.config.tuning, "model": tagger.config.model, "verified": tagger.verified,
                "seed": tagger.checkpoint_info.get("training", {}).get("seed")}
    return tagger.encoder, tagger.tokenizer, tuned_by


def run_probe_study(options: ProbeStudyOptions, log=print) -> list[dict]:
    """Train (or reuse) the probe sets of every seed, score them, write the run records."""
    work, runs = Path(options.work_dir), Path(options.runs_dir)
    seeds = [int(s) for s in options.seeds.split(",") if s.strip()]
    encoder, tokenizer, tuned_by = probed_encoder(options)
    counting = CountingEncoder(encoder)
    config = ProbeConfig(encoder=options.encoder, n_layers=encoder.config.num_hidden_layers + 1,
                         hidden=encoder.config.hidden_size)
    prefix = f"probe-{tuned_by['tuning']}-{tuned_by['model']}" if tuned_by else "probe"
    train_set = load_split(options.data, SOURCE_LANGUAGE, "train", options.max_train_sentences)
    dev_set = load_split(options.data, SOURCE_LANGUAGE, "dev", options.max_dev_sentences)

    to_train = [seed for seed in seeds if not (work / f"seed-{seed}" / "probes.safetensors").is_file()]
    if to_train:  # the English features, computed (or read back) once for every seed to train
        train = cached_features(work / "features-en-train.safetensors", counting, tokenizer,
                                train_set, options.batch_size, log)
        dev = cached_features(work / "features-en-dev.safetensors", counting, tokenizer, dev_set,
                              options.batch_size, log)
    for seed in to_train:
        probes, _ = train_probes(config, train, train_set["ner_tags"], dev, dev_set["ner_tags"],
                                 ProbeTraining(seed=seed, epochs=options.epochs), log)
        if tuned_by:
            probes.info["tuning"], probes.info["tuned_by"] = tuned_by["tuning"], tuned_by
        probes.info["data"] = {"source": str(options.data),
                               "train_sha256": dataset_hash(train_set["tokens"], train_set["ner_tags"]),
                               "dev_sha256": dataset_hash(dev_set["tokens"], dev_set["ner_tags"])}
        save_probes(probes, work / f"seed-{seed}")
    probe_sets = {seed: load_probes(work / f"seed-{seed}") for seed in seeds}
    hashes = {seed: checkpoint_hash(work / f"seed-{seed}", PROBE_FILES) for seed in seeds}

    languages = (available_languages(options.data, "test") if options.languages == "all"
                 else [code.strip() for code in options.languages.split(",") if code.strip()])
    gold, predicted, started = {}, {}, time.time()  # predicted[(seed, layer)][language]
    labels = config.labels
    for language in languages:
        dataset = load_split(options.data, language, "test", options.max_test_sentences)
        gold[language] = dataset
        sha256 = dataset_hash(dataset["tokens"], dataset["ner_tags"]) + json.dumps(hashes)
        path = work / "test" / f"{language}.safetensors"
        stored = _load_tensors(path, sha256)
        if stored is None:
            words = layer_features(counting, tokenizer, dataset["tokens"], options.batch_size)
            stored = {f"seed-{s}": torch.from_numpy(probe_tags(probe_sets[s], words)[0]).to(torch.uint8)
                      for s in seeds}
            stored["lengths"] = torch.tensor(words.lengths, dtype=torch.long)
            _save_tensors(path, stored, sha256)
            log(f"{language}: {len(dataset)} test sentences tagged by every layer and seed")
        lengths = stored["lengths"].tolist()
        for seed in seeds:
            best = stored[f"seed-{seed}"].long()
            for layer in range(config.n_layers):
                tags = [labels[i] for i in best[:, layer].tolist()]
                predicted.setdefault((seed, layer), {})[language] = split_by_lengths(tags, lengths)
    seconds = time.time() - started

    records = []
    for seed in seeds:
        directory = work / f"seed-{seed}"
        for layer in range(config.n_layers):
            name = f"{prefix}-l{layer}-s{seed}"
            training = probe_record_training(probe_sets[seed], layer)
            if tuned_by:
                training["tuned_by"] = tuned_by
            checkpoint = {"path": str(directory), "sha256": hashes[seed],
                          "encoder": options.encoder, "fusion_layer": None, "model": f"probe-l{layer}",
                          "probe_layer": layer, "training": training}
            records.append(build_run_record(
                name, PROBE_STUDY, checkpoint, options.data, "test", options.max_test_sentences, gold,
                predicted[(seed, layer)], labels, "cpu", seconds, runs / f"{name}.json"))
    log(f"{len(records)} probe run records -> {runs}")
    return records
