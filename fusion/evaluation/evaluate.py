"""Zero-shot evaluation: entity-level seqeval scores per language -> a run record (fusion/evaluation/runs.py).

Scores are strict IOB2 (seqeval ``mode="strict"``): an entity counts only when its type and its
exact word span match. A language's F1 is micro-averaged over entities; the run's average is the
unweighted mean over languages, as in the XTREME tables.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

from fusion.data.ner import HUB_WIKIANN, available_languages, load_split
from fusion.evaluation.predictions import Sidecar, build_language, sidecar_path, write_sidecar
from fusion.evaluation.runs import DEFAULT_STUDY, SCHEMA_VERSION, STUDIES, validate_run
from fusion.model.checkpoint import checkpoint_hash, load_tagger, resolve_checkpoint
from fusion.tagging.predict import tag_words


@dataclass
class EvaluateOptions:
    """Options of `python -m fusion evaluate` (each field is a flag)."""

    checkpoint: str = field(metadata={
        "help": "checkpoint directory (or hf://USER/REPO, online)"})
    data: str = field(metadata={
        "help": 'PAN-X directory (e.g. ../shared/data/wikiann), or "wikiann" for the hub (online)'})
    languages: str = field(default="all", metadata={
        "help": '"all" or comma-separated codes, e.g. "en,de,zh"'})
    split: str = field(default="test", metadata={
        "help": "test, or dev (layer sweeps choose on dev only)"})
    max_sentences: int | None = field(default=None, metadata={
        "help": "first N sentences per language (all when None)"})
    output: str | None = field(default=None, metadata={
        "help": "run record path (JSON); printed when None"})
    batch_size: int = field(default=64, metadata={
        "help": "sentences (windows of long ones) per forward pass"})
    name: str | None = field(default=None, metadata={
        "help": "display name of the run (default: checkpoint directory name)"})
    device: str | None = field(default=None, metadata={
        "help": "cpu, cuda...; default: the GPU when there is one"})
    study: str = field(default=DEFAULT_STUDY, metadata={
        "help": "what the run belongs to: " + ", ".join(STUDIES)})
    trust_unverified: bool = field(default=False, metadata={
        "help": "load a checkpoint saved without a fingerprint (older versions); the record says "
                "it was unverified"})


def score_tags(gold: list[list[str]], predicted: list[list[str]]) -> dict:
    """Strict IOB2 precision / recall / F1 overall and per entity type (fractions in [0, 1])."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    if len(gold) != len(predicted) or any(len(g) != len(p) for g, p in zip(gold, predicted)):
        raise ValueError("gold and predicted tags must have the same sentences and lengths")
    report = classification_report(gold, predicted, mode="strict", scheme=IOB2, output_dict=True,
                                   zero_division=0)
    per_type = {label: {"precision": values["precision"], "recall": values["recall"],
                        "f1": values["f1-score"], "support": int(values["support"])}
                for label, values in report.items() if not label.endswith(" avg")}
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0})
    return {"precision": micro["precision"], "recall": micro["recall"], "f1": micro["f1-score"],
            "support": int(micro["support"]), "per_type": per_type}


def dataset_hash(tokens: list[list[str]], tags: list[list[str]]) -> str:
    """sha256 of exactly the sentences evaluated (tokens and gold tags)."""
    digest = hashlib.sha256()
    for words, labels in zip(tokens, tags):
        digest.update(("\t".join(words) + "\n" + "\t".join(labels) + "\n\n").encode("utf-8"))
    return digest.hexdigest()


def predict_dataset(tagger, dataset, batch_size: int = 64, progress=None,
                    max_batch_tokens: int = 8192) -> list[list[str]]:
    """The predicted tag of every word of a Dataset(tokens, ner_tags)."""
    predicted = tag_words(tagger, dataset["tokens"], batch_size=batch_size, progress=progress,
                          max_batch_tokens=max_batch_tokens)
    return [[tag for tag, _ in sentence] for sentence in predicted]


def evaluate_dataset(tagger, dataset, batch_size: int = 64, progress=None) -> dict:
    """Scores of `tagger` on a Dataset(tokens, ner_tags)."""
    return score_tags(dataset["ner_tags"], predict_dataset(tagger, dataset, batch_size, progress))


def library_versions() -> dict:
    """The libraries an evaluation ran with, for its run record (None: not installed where it ran;
    the POS and pair evaluations use neither datasets nor seqeval)."""
    from importlib.metadata import PackageNotFoundError, version

    import torch
    import transformers

    def installed(package: str) -> str | None:
        try:
            return version(package)
        except PackageNotFoundError:
            return None

    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "datasets": installed("datasets"),
            "seqeval": installed("seqeval")}


def resolve_languages(options: EvaluateOptions) -> list[str]:
    if options.languages != "all":
        return [code.strip() for code in options.languages.split(",") if code.strip()]
    if options.data == HUB_WIKIANN and not Path(options.data).exists():
        raise ValueError("languages='all' needs a local data directory; name languages for the hub")
    return available_languages(options.data, options.split)


def run_evaluation(options: EvaluateOptions, tagger=None, show_progress: bool = True) -> dict:
    """Evaluate a checkpoint on every requested language; returns a validated run record."""
    from tqdm.auto import tqdm

    started = time.time()
    directory = resolve_checkpoint(options.checkpoint)  # fetched once, if it is a hub repo
    if tagger is None:
        import torch

        tagger = load_tagger(directory, trust_unverified=options.trust_unverified)
        tagger.to(options.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    languages = resolve_languages(options)
    gold, predicted = {}, {}
    bar = tqdm(total=len(languages), desc="languages", disable=not show_progress)
    for lang in languages:
        gold[lang] = load_split(options.data, lang, options.split, options.max_sentences,
                                labels=tagger.config.labels)
        predicted[lang] = predict_dataset(tagger, gold[lang], options.batch_size)
        bar.set_postfix(lang=lang)
        bar.update(1)
    bar.close()
    checkpoint = {"path": str(options.checkpoint), "sha256": checkpoint_hash(directory),
                  "encoder": tagger.config.encoder, "fusion_layer": tagger.config.fusion_layer,
                  "model": tagger.config.model, "verified": tagger.verified,
                  "training": tagger.checkpoint_info.get("training", {})}
    return build_run_record(
        options.name or Path(options.checkpoint).name, options.study, checkpoint, options.data,
        options.split, options.max_sentences, gold, predicted, tagger.config.labels,
        str(next(tagger.parameters()).device), time.time() - started, options.output)


def build_run_record(name: str, study: str, checkpoint: dict, data_source, split: str,
                     max_sentences: int | None, gold: dict, predicted: dict[str, list[list[str]]],
                     labels: list[str], device: str, seconds: float, output=None) -> dict:
    """Score `predicted` against `gold` (language -> Dataset(tokens, ner_tags)) and make the run
    record: what was evaluated, the scores, and, when `output` is given, the record and its
    per-sentence predictions written beside it. Taggers and layer probes both come through here."""
    types = list(dict.fromkeys(label.split("-", 1)[1] for label in labels if "-" in label))
    scores, counts, hashes, per_sentence = {}, {}, {}, {}
    for lang, dataset in gold.items():
        scores[lang] = score_tags(dataset["ner_tags"], predicted[lang])
        counts[lang] = len(dataset)
        hashes[lang] = dataset_hash(dataset["tokens"], dataset["ner_tags"])
        per_sentence[lang] = build_language(labels, types, dataset["ner_tags"], predicted[lang], hashes[lang])
    training = checkpoint.get("training", {})
    source_language = training.get("language", "en")
    targets = [lang for lang in scores if lang != source_language]
    record = {
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "study": study,
        "checkpoint": checkpoint,
        "data": {
            "source": str(data_source), "split": split,
            "max_sentences_per_language": max_sentences,
            "sentences": counts, "sha256": hashes,
        },
        "seed": training.get("seed"),
        "scores": scores,
        "average_f1": sum(s["f1"] for s in scores.values()) / len(scores) if scores else 0.0,
        "average_f1_targets": (sum(scores[lang]["f1"] for lang in targets) / len(targets)
                               if targets else None),
        "source_language": source_language,
        "versions": library_versions(),
        "device": device,
        "wall_seconds": round(seconds, 2),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if output:
        sidecar = write_sidecar(sidecar_path(output), Sidecar(list(labels), types, per_sentence))
        record["predictions"] = {"file": sidecar.name,
                                 "sha256": hashlib.sha256(sidecar.read_bytes()).hexdigest()}
    validate_run(record)
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n",
                                encoding="utf-8")
    return record
