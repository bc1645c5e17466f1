"""POS tagging as a second target task (the paper reports fusion helping POS too): the same
taggers, trained on English UD-POS with the 17 UPOS tags, scored zero-shot by UPOS accuracy on
the XTREME UD-POS test sets (``udpos/<lang>/{train,dev,test}.tsv``, ``TOKEN<TAB>UPOS``).

A POS run record holds per-language accuracy and, in a gzip sidecar, each sentence's
(correct, words) counts, so that Δ accuracy between two taggers gets a paired bootstrap interval
over sentences. POS runs live in their own folder (``assets/pos_runs``): they are not NER runs.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .data import DataFormatError, to_dataset
from .evaluate import dataset_hash, predict_dataset
from .languages import language_info

UPOS_TAGS = ["ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
             "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X"]
POS_SCHEMA = "pos-run/1"
SOURCE_LANGUAGE = "en"


def read_upos(root: str | Path, language: str, split: str, max_sentences: int | None = None):
    """The first `max_sentences` sentences of ``root/<language>/<split>.tsv`` as
    Dataset(tokens, ner_tags): the tag column keeps the NER readers' name, so training and
    prediction read both tasks alike; here it holds UPOS tags."""
    from .tasks import _read_tokens

    path = Path(root) / language / f"{split}.tsv"
    if not path.is_file():
        raise DataFormatError(f"no UD-POS {split} file for '{language}': expected {path}")
    examples = _read_tokens(path, "\t", 2, max_sentences)
    for number, example in enumerate(examples, start=1):
        unknown = sorted(set(example.tags) - set(UPOS_TAGS))
        if unknown:
            raise DataFormatError(f"{path}: sentence {number} has tags {unknown}, not UPOS "
                                  f"({', '.join(UPOS_TAGS)})")
    return to_dataset([(e.words, e.tags) for e in examples])


def available_pos_languages(root: str | Path, split: str = "test") -> list[str]:
    return sorted(p.parent.name for p in Path(root).glob(f"*/{split}.tsv"))


def sentence_counts(gold: list[list[str]], predicted: list[list[str]]) -> list[tuple[int, int]]:
    """(correct tags, words) per sentence."""
    if len(gold) != len(predicted) or any(len(g) != len(p) for g, p in zip(gold, predicted)):
        raise ValueError("gold and predicted tags must have the same sentences and lengths")
    return [(sum(g == p for g, p in zip(gs, ps)), len(gs)) for gs, ps in zip(gold, predicted)]


def accuracy(counts: list[tuple[int, int]]) -> float:
    """Word-level accuracy: correct tags over all words (0 when there are none)."""
    words = sum(n for _, n in counts)
    return sum(c for c, _ in counts) / words if words else 0.0


@dataclass
class PosEvaluateOptions:
    """Options of `python -m fusion evaluate-pos` (each field is a flag)."""

    checkpoint: str = field(metadata={"help": "a POS tagger (python -m fusion train --task pos)"})
    data: str = field(metadata={"help": "UD-POS directory, e.g. ../shared/data/udpos"})
    languages: str = field(default="all", metadata={"help": '"all" or codes, e.g. "en,de,zh"'})
    split: str = field(default="test", metadata={"help": "test, or dev"})
    max_sentences: int | None = field(default=None, metadata={
        "help": "first N sentences per language (all when None)"})
    output: str | None = field(default=None, metadata={"help": "run record path (JSON)"})
    name: str | None = field(default=None, metadata={"help": "display name of the run"})
    batch_size: int = field(default=64, metadata={"help": "sentences per forward pass"})


def evaluate_pos(options: PosEvaluateOptions, tagger=None) -> dict:
    """UPOS accuracy of a POS tagger per language -> a POS run record (+ its sentence counts)."""
    from .checkpoint import checkpoint_hash, load_tagger

    started = time.time()
    if tagger is None:
        import torch

        tagger = load_tagger(options.checkpoint)
        tagger.to("cuda" if torch.cuda.is_available() else "cpu")
    if tagger.config.task != "pos":
        raise ValueError(f"{options.checkpoint} is a {tagger.config.task} tagger, not a POS tagger")
    languages = (available_pos_languages(options.data, options.split) if options.languages == "all"
                 else [code.strip() for code in options.languages.split(",") if code.strip()])
    scores, sentences, hashes, per_sentence = {}, {}, {}, {}
    for language in languages:
        dataset = read_upos(options.data, language, options.split, options.max_sentences)
        counts = sentence_counts(dataset["ner_tags"], predict_dataset(tagger, dataset, options.batch_size))
        scores[language], sentences[language] = accuracy(counts), len(dataset)
        hashes[language] = dataset_hash(dataset["tokens"], dataset["ner_tags"])
        per_sentence[language] = counts
    training = tagger.checkpoint_info.get("training", {})
    targets = [language for language in languages if language != SOURCE_LANGUAGE]
    record = {
        "schema": POS_SCHEMA, "name": options.name or Path(options.checkpoint).name, "task": "pos",
        "checkpoint": {"path": str(options.checkpoint), "sha256": checkpoint_hash(options.checkpoint),
                       "encoder": tagger.config.encoder, "fusion_layer": tagger.config.fusion_layer,
                       "model": tagger.config.model, "training": training},
        "data": {"source": str(options.data), "split": options.split,
                 "max_sentences_per_language": options.max_sentences, "sentences": sentences,
                 "sha256": hashes},
        "seed": training.get("seed"), "scores": scores,
        "average_accuracy_targets": sum(scores[t] for t in targets) / len(targets) if targets else None,
        "device": str(next(tagger.parameters()).device),
        "wall_seconds": round(time.time() - started, 2),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if options.output:
        output = Path(options.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        sidecar = output.with_suffix(".sentences.json.gz")
        sidecar.write_bytes(gzip.compress(json.dumps(per_sentence).encode("utf-8"), mtime=0))
        record["sentences_file"] = {"file": sidecar.name,
                                    "sha256": hashlib.sha256(sidecar.read_bytes()).hexdigest()}
        output.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return record


def load_pos_run(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """A POS run record and its per-sentence counts (language -> n × 2 array), checked."""
    path = Path(path)
    record = json.loads(path.read_text(encoding="utf-8"))
    if record.get("schema") != POS_SCHEMA:
        raise ValueError(f"{path.name}: not a POS run record (schema {record.get('schema')!r})")
    sidecar = path.parent / record["sentences_file"]["file"]
    raw = sidecar.read_bytes()
    if hashlib.sha256(raw).hexdigest() != record["sentences_file"]["sha256"]:
        raise ValueError(f"{sidecar.name}: its sha256 differs from the record's")
    counts = {k: np.asarray(v, dtype=np.int64).reshape(-1, 2)
              for k, v in json.loads(gzip.decompress(raw)).items()}
    for language, array in counts.items():
        if abs(accuracy(array.tolist()) - record["scores"][language]) > 1e-9:
            raise ValueError(f"{path.name}: {language} counts do not give the stored accuracy")
    return record, counts


@dataclass(frozen=True)
class PosDelta:
    language: str
    baseline: float  # accuracy in points
    fusion: float
    delta: float
    low: float  # 95 % paired bootstrap interval of delta
    high: float


def compare_pos(baseline: tuple[dict, dict], fusion: tuple[dict, dict], resamples: int = 1000,
                seed: int = 0) -> list[PosDelta]:
    """Per language and on the target average ("average"): fusion − baseline accuracy with a
    paired bootstrap over sentences (both taggers scored the same sentences, checked by hash)."""
    (b_record, b_counts), (f_record, f_counts) = baseline, fusion
    rng = np.random.default_rng(seed)
    rows, draws = [], {}
    for language in sorted(set(b_counts) & set(f_counts)):
        if b_record["data"]["sha256"][language] != f_record["data"]["sha256"][language]:
            continue  # not the same sentences: no paired comparison
        b, f = b_counts[language], f_counts[language]
        index = rng.integers(0, len(b), size=(resamples, len(b)))
        words = b[index, 1].sum(1)
        draws[language] = 100 * (f[index, 0].sum(1) - b[index, 0].sum(1)) / np.maximum(words, 1)
        rows.append((language, 100 * accuracy(b.tolist()), 100 * accuracy(f.tolist())))
    return _with_average([PosDelta(k, bv, fv, fv - bv, *np.percentile(draws[k], [2.5, 97.5]))
                          for k, bv, fv in rows], draws)


def compare_pos_seeds(pairs: list[tuple[tuple[dict, dict], tuple[dict, dict]]], resamples: int = 1000,
                      seed: int = 0) -> list[PosDelta]:
    """`compare_pos` pooled over seeds: each pair is one seed's (baseline, fusion) runs. Accuracies
    and Δ are means over the seeds; the interval resamples seeds and sentences together (seed
    noise included). Only languages every run scored on the same sentences are compared."""
    languages = None
    for (b_record, b_counts), (f_record, f_counts) in pairs:
        same = {k for k in set(b_counts) & set(f_counts)
                if b_record["data"]["sha256"][k] == f_record["data"]["sha256"][k]}
        languages = same if languages is None else languages & same
    hashes = [{k: run[0]["data"]["sha256"][k] for k in languages} for pair in pairs for run in pair]
    languages = sorted(k for k in languages or () if len({h[k] for h in hashes}) == 1)
    rng = np.random.default_rng(seed)
    n_seeds = len(pairs)
    seed_draws = rng.integers(0, n_seeds, size=(resamples, n_seeds))
    rows, draws = [], {}
    for language in languages:
        b = np.stack([pair[0][1][language] for pair in pairs])  # seeds × sentences × (correct, words)
        f = np.stack([pair[1][1][language] for pair in pairs])
        index = rng.integers(0, b.shape[1], size=(resamples, b.shape[1]))
        words = b[0][index, 1].sum(1)  # the same sentences in every run
        gained = (f[:, :, 0] - b[:, :, 0])[:, index].sum(2)  # seeds × resamples
        draws[language] = 100 * np.take_along_axis(gained.T, seed_draws, 1).mean(1) / np.maximum(words, 1)
        rows.append((language, float(np.mean([100 * accuracy(x.tolist()) for x in b])),
                     float(np.mean([100 * accuracy(x.tolist()) for x in f]))))
    return _with_average([PosDelta(k, bv, fv, fv - bv, *np.percentile(draws[k], [2.5, 97.5]))
                          for k, bv, fv in rows], draws)


def _with_average(result: list[PosDelta], draws: dict[str, np.ndarray]) -> list[PosDelta]:
    """`result` and the target languages' average, its interval from the same draws."""
    targets = [r for r in result if r.language != SOURCE_LANGUAGE]
    if targets:
        average = np.mean([draws[r.language] for r in targets], axis=0)
        b_mean = float(np.mean([r.baseline for r in targets]))
        f_mean = float(np.mean([r.fusion for r in targets]))
        result.append(PosDelta("average", b_mean, f_mean, f_mean - b_mean,
                               *np.percentile(average, [2.5, 97.5])))
    return result


def pos_table(deltas: list[PosDelta]) -> pd.DataFrame:
    """One row per language (by family) and the target average: accuracies, Δ and its interval."""
    def order(d: PosDelta):
        return (d.language == "average", d.language != SOURCE_LANGUAGE, language_info(d.language).family
                if d.language != "average" else "", d.language)
    return pd.DataFrame([{"language": d.language, "baseline": round(d.baseline, 1),
                          "fusion": round(d.fusion, 1), "Δ": round(d.delta, 2),
                          "95 % interval": f"[{d.low:+.1f}, {d.high:+.1f}]"}
                         for d in sorted(deltas, key=order)])


def choose_fusion_layer(directories: list[str | Path]) -> tuple[str, dict[str, float]]:
    """Among trained POS fusion taggers, the one with the best **English dev** accuracy (never a
    target language). Returns its model name and every model's dev accuracy."""
    import json as _json

    scores = {}
    for directory in directories:
        saved = _json.loads((Path(directory) / "tagger_config.json").read_text(encoding="utf-8"))
        layer = saved["config"]["fusion_layer"]
        if layer is not None and "dev_accuracy" in saved.get("training", {}):
            scores[f"fusion-l{layer}"] = saved["training"]["dev_accuracy"]
    if not scores:
        raise ValueError("no trained POS fusion tagger with an English dev accuracy")
    return max(scores, key=lambda model: (scores[model], -int(model.split("-l")[1]))), scores


@dataclass(frozen=True)
class PosResults:
    """The stored POS comparison: the chosen fusion layer, how it was chosen, Δ per language."""

    seed: int
    chosen: str  # e.g. "fusion-l8"
    dev_accuracy: dict[str, float]  # model -> English dev accuracy of every fusion tagger tried
    deltas: list[PosDelta]
    sentences: int | None  # the per-language cap of the test runs
    runs: tuple = field(default=(), repr=False, compare=False)  # (baseline, fusion) as load_pos_run reads them


def pooled_pos(found: list[PosResults]) -> list[PosDelta]:
    """Δ over every seed of `found` (`compare_pos_seeds`); each seed's fusion tagger is the one
    its own English dev accuracy chose."""
    return compare_pos_seeds([result.runs for result in found])


def pos_results(folder: str | Path) -> list[PosResults]:
    """Every seed in `folder` with a layer choice and both runs (baseline, chosen fusion)."""
    folder = Path(folder)
    found = []
    for choice_path in sorted(folder.glob("pos-dev-s*.json")):
        choice = json.loads(choice_path.read_text(encoding="utf-8"))
        seed, chosen = choice["seed"], choice["chosen"]
        paths = [folder / f"pos-{model}-s{seed}.json" for model in ("baseline", chosen)]
        if not all(path.is_file() for path in paths):
            continue
        baseline, fusion = (load_pos_run(path) for path in paths)
        found.append(PosResults(seed, chosen, choice["english_dev_accuracy"],
                                compare_pos(baseline, fusion),
                                baseline[0]["data"]["max_sentences_per_language"], (baseline, fusion)))
    return found
