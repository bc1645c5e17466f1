"""Which entities each model got wrong, sentence by sentence: the error view's computations.

Against the gold entities (strict IOB2 spans, as scoring counts them), every mistake is one of

* ``missed``: a gold entity no predicted entity touches;
* ``wrong type``: a predicted entity with exactly a gold entity's span but another type;
* ``wrong boundary``: a gold entity that predicted entities overlap without matching its span;
* ``spurious``: a predicted entity that touches no gold entity.

Sentence text for stored runs comes from the data directory named at start-up (checked against
the run's content hash) or, where there is none (a hosted app), from a small sample shipped in
``assets/error_samples/`` (at most 50 sentences per language; its file states the dataset,
source and licence).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from fusion.evaluation.stored import StoredFileError, read_json
from fusion.tagging.spans import entity_spans

MISSED, WRONG_TYPE, WRONG_BOUNDARY, SPURIOUS = "missed", "wrong type", "wrong boundary", "spurious"
ERROR_KINDS = (MISSED, WRONG_TYPE, WRONG_BOUNDARY, SPURIOUS)
SAMPLE_LIMIT = 50  # sentences per language in a shipped sample
MAX_SAMPLE_BYTES = 5_000_000


@dataclass(frozen=True)
class EntityError:
    kind: str  # one of ERROR_KINDS
    label: str  # the gold type (the predicted one for spurious entities)
    start: int  # word indices, end exclusive
    end: int


def entity_errors(gold: list[str], predicted: list[str]) -> list[EntityError]:
    """Every mistake of `predicted` against `gold` (tags of one sentence), in word order."""
    gold_spans, predicted_spans = entity_spans(gold), entity_spans(predicted)
    errors = []
    for label, start, end in gold_spans - predicted_spans:
        overlapping = [p for p in predicted_spans if p[1] < end and start < p[2]]
        if any((p[1], p[2]) == (start, end) for p in overlapping):
            errors.append(EntityError(WRONG_TYPE, label, start, end))
        elif overlapping:
            errors.append(EntityError(WRONG_BOUNDARY, label, start, end))
        else:
            errors.append(EntityError(MISSED, label, start, end))
    for label, start, end in predicted_spans - gold_spans:
        if not any(g[1] < end and start < g[2] for g in gold_spans):
            errors.append(EntityError(SPURIOUS, label, start, end))
    return sorted(errors, key=lambda e: (e.start, e.end, e.kind))


@dataclass
class SentenceView:
    """One test sentence with gold and each model's tags, and each model's mistakes."""

    index: int  # position in the evaluated split
    tokens: list[str]
    gold: list[str]
    predicted: dict[str, list[str]]  # side -> tags
    errors: dict[str, list[EntityError]] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(self.tokens)

    def offsets(self) -> list[tuple[int, int]]:
        """Character span of each token in `text`."""
        spans, position = [], 0
        for token in self.tokens:
            spans.append((position, position + len(token)))
            position += len(token) + 1
        return spans


def differing_sentences(indices: list[int], tokens: list[list[str]], gold: list[list[str]],
                        predicted: dict[str, list[list[str]]]) -> list[SentenceView]:
    """The sentences whose predictions differ between the sides, with every side's mistakes."""
    views = []
    for row, index in enumerate(indices):
        tags = {side: values[row] for side, values in predicted.items()}
        if len({tuple(t) for t in tags.values()}) == 1:
            continue
        views.append(SentenceView(index, tokens[row], gold[row], tags,
                                  {side: entity_errors(gold[row], t) for side, t in tags.items()}))
    return views


def error_counts(views: list[SentenceView], sides: list[str]) -> dict[str, dict[str, int]]:
    """side -> kind -> number of mistakes over `views`."""
    return {side: {kind: sum(e.kind == kind for v in views for e in v.errors.get(side, []))
                   for kind in ERROR_KINDS} for side in sides}


def select(views: list[SentenceView], kinds, entity_types) -> list[SentenceView]:
    """The sentences where some side made a mistake of one of `kinds` on one of `entity_types`."""
    kinds, entity_types = set(kinds or ERROR_KINDS), set(entity_types or [])
    return [v for v in views if any(e.kind in kinds and (not entity_types or e.label in entity_types)
                                    for errors in v.errors.values() for e in errors)]


# --------------------------------------------------------------------------------------------
# Shipped samples of sentence text (for an app without the data directory)
# --------------------------------------------------------------------------------------------

SAMPLE_PROVENANCE = {
    "dataset": "WikiANN / PAN-X (Pan et al. 2017; Rahimi et al. 2019 splits, as processed by XTREME)",
    "source": "the test files of XTREME's PAN-X preparation (https://github.com/google-research/xtreme); "
              "also the Hugging Face dataset 'wikiann'",
    "licence": "no licence stated by the dataset's authors (they ask to cite Pan et al. 2017 and "
               "Rahimi et al. 2019); the text is from Wikipedia, CC BY-SA",
}


def write_sample(path: str | Path, language: str, sha256: str, items: list[tuple[int, list[str], list[str]]],
                 about: dict) -> Path:
    """Store at most SAMPLE_LIMIT (index, tokens, gold tags) of one language's evaluated split."""
    if len(items) > SAMPLE_LIMIT:
        raise ValueError(f"a sample holds at most {SAMPLE_LIMIT} sentences, got {len(items)}")
    payload = {**SAMPLE_PROVENANCE, **about, "language": language, "sha256": sha256,
               "sentences": [{"index": i, "tokens": t, "gold": g} for i, t, g in items]}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    return path


def read_sample(path: str | Path) -> dict | None:
    """A shipped sample (read through the bounded reader, fusion/evaluation/stored.py), or None
    when there is none or it cannot be read."""
    try:
        payload = read_json(Path(path), MAX_SAMPLE_BYTES)
        sentences = payload["sentences"]
        if not all(isinstance(s["index"], int) and len(s["tokens"]) == len(s["gold"]) for s in sentences):
            return None
        return payload
    except (StoredFileError, KeyError, TypeError, AttributeError):
        return None


# --------------------------------------------------------------------------------------------
# Stored runs: predictions from their sidecars, text from the data or the shipped sample
# --------------------------------------------------------------------------------------------

def stored_views(records: list[dict], runs_folder: str | Path, language: str, seed,
                 fusion_model: str, data_dir: str | Path | None,
                 sample_dir: str | Path | None) -> tuple[list[SentenceView], str]:
    """The differing sentences of one language for the baseline and `fusion_model` runs of
    `seed` among `records` (one group), and a note saying where the text came from."""
    from fusion.data.ner import DataFormatError, load_split
    from fusion.evaluation.evaluate import dataset_hash
    from fusion.evaluation.predictions import PredictionsError, read_sidecar
    from fusion.evaluation.runs import sidecar_file

    pair = {side: next((r for r in records if r["checkpoint"]["model"] == model and r.get("seed") == seed), None)
            for side, model in (("baseline", "baseline"), ("fusion", fusion_model))}
    if any(r is None for r in pair.values()):
        return [], f"No baseline and {fusion_model} runs with seed {seed} in this group."
    record = pair["baseline"]
    if language not in record["scores"] or language not in pair["fusion"]["scores"]:
        return [], f"These runs have no scores for '{language}'."
    try:
        predicted = {}
        for side, run in pair.items():
            name = (run.get("predictions") or {}).get("file") if isinstance(run.get("predictions"), dict) else None
            if not name:
                return [], f"{run.get('file', run['name'])} has no stored predictions."
            path, sha256 = sidecar_file(run, runs_folder)  # checked against the record's sha256
            name = path.name
            sidecar = read_sidecar(path, sha256, name)
            item = sidecar.languages.get(language)
            if item is None or item.sha256 != run["data"]["sha256"][language]:
                return [], f"{name} does not hold this run's {language} sentences."
            predicted[side] = item.tag_strings(sidecar.labels)
    except PredictionsError as error:
        return [], str(error)
    wanted = record["data"]["sha256"][language]
    cap = record["data"].get("max_sentences_per_language")
    if data_dir is not None:
        try:
            dataset = load_split(data_dir, language, record["data"]["split"], cap)
            tokens, gold = dataset["tokens"], dataset["ner_tags"]
            if dataset_hash(tokens, gold) == wanted:
                indices = list(range(len(tokens)))
                return (differing_sentences(indices, tokens, gold, predicted),
                        f"All {len(tokens):,} evaluated sentences, read from the data directory.")
        except (DataFormatError, OSError):
            pass
    sample = read_sample(Path(sample_dir) / f"{language}.json") if sample_dir else None
    if sample is None or sample.get("sha256") != wanted:
        return [], ("The sentence text is not here: start the app with --data DIR (a PAN-X "
                    "directory) to browse these runs' sentences.")
    sentences = [s for s in sample["sentences"] if s["index"] < len(predicted["baseline"])]
    indices = [s["index"] for s in sentences]
    chosen = {side: [tags[i] for i in indices] for side, tags in predicted.items()}
    if any(len(chosen[side][k]) != len(s["tokens"]) for side in chosen for k, s in enumerate(sentences)):
        return [], "The shipped sample does not match these runs' predictions."
    views = differing_sentences(indices, [s["tokens"] for s in sentences], [s["gold"] for s in sentences], chosen)
    return views, (f"A shipped sample: the first {len(sentences)} test sentences where the shipped "
                   "models differ (pass --data DIR to browse all). " + sample.get("dataset", "") + "; "
                   + sample.get("licence", "") + ".")
