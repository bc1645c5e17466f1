"""Zero-shot accuracy of a sentence-pair classifier (XNLI, PAWS-X) per language -> a run record.

A record like every other (fusion/evaluation/runs.py): task "xnli" or "pawsx", study "pairs",
``scores: {lang: {"accuracy", "support"}}`` (support = pairs scored), ``average_accuracy`` and
``average_accuracy_targets``; the data block names the split and each language's pairs by count
and content hash. Its sidecar ``NAME.predictions.json.gz`` is the accuracy-counts format of POS
runs with one item per pair ([correct, 1]) and each pair's predicted label, so that Δ accuracy
gets the same paired bootstrap over pairs and seeds (fusion/studies/pos_results.py).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from fusion.data.pairs import TARGET_SPLIT, pair_languages, read_pairs
from fusion.evaluation.pos import accuracy_record
from fusion.evaluation.runs import PAIRS_STUDY
from fusion.model.checkpoint import load_pair_classifier
from fusion.tagging.pairs import classify_pairs


def pairs_hash(pairs) -> str:
    """sha256 of exactly the pairs scored (both sentences and the gold label)."""
    digest = hashlib.sha256()
    for pair in pairs:
        digest.update(f"{pair.first}\t{pair.second}\t{pair.label}\n".encode("utf-8"))
    return digest.hexdigest()


@dataclass
class PairEvaluateOptions:
    """Options of `python -m fusion evaluate-pairs` (each field is a flag)."""

    checkpoint: str = field(metadata={"help": "a pair classifier (python -m fusion train-pairs)"})
    data: str = field(metadata={"help": "data directory holding xnli/ and pawsx/, e.g. ../shared/data"})
    languages: str = field(default="all", metadata={"help": '"all" or codes, e.g. "en,de,zh"'})
    split: str | None = field(default=None, metadata={
        "help": "dev or test; by default the task's zero-shot split (XNLI dev, PAWS-X test)"})
    max_pairs: int | None = field(default=None, metadata={"help": "first N pairs per language (all when None)"})
    output: str | None = field(default=None, metadata={"help": "run record path (JSON)"})
    name: str | None = field(default=None, metadata={"help": "display name of the run"})
    batch_size: int = field(default=64, metadata={"help": "pairs per forward pass"})
    trust_unverified: bool = field(default=False, metadata={
        "help": "load a checkpoint saved without a fingerprint (older versions)"})


def evaluate_pairs(options: PairEvaluateOptions, classifier=None) -> dict:
    """Accuracy per language -> a run record (and, with `output`, it and its sidecar written)."""
    import torch

    started = time.time()
    if classifier is None:
        classifier = load_pair_classifier(options.checkpoint, trust_unverified=options.trust_unverified)
        classifier.to("cuda" if torch.cuda.is_available() else "cpu")
    task = classifier.config.task
    split = options.split or TARGET_SPLIT[task]
    languages = (pair_languages(options.data, task, split) if options.languages == "all"
                 else [code.strip() for code in options.languages.split(",") if code.strip()])
    counts, hashes, predicted, sizes, cut = {}, {}, {}, {}, {}
    for language in languages:
        pairs = read_pairs(options.data, task, language, split, options.max_pairs)
        labels, _, cut[language] = classify_pairs(classifier, [(p.first, p.second) for p in pairs], options.batch_size)
        counts[language] = [(int(label == pair.label), 1) for label, pair in zip(labels, pairs)]
        predicted[language], sizes[language], hashes[language] = labels, len(pairs), pairs_hash(pairs)
    data = {"source": str(options.data), "split": split, "max_sentences_per_language": options.max_pairs,
            "sentences": sizes, "sha256": hashes, "pairs_cut_to_fit": cut}
    return accuracy_record(classifier, options.checkpoint, options.name, PAIRS_STUDY, data, counts, started,
                           options.output, predicted)
