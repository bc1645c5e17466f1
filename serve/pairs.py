"""The Pairs tab's service: two sentences in any language -> each model's label and class
probabilities side by side, and, for Inside on a pair, one model's attentions across both
sentences and its gate per token.

The pair classifiers (fusion/model/pairs.py) are looked for in ``checkpoints/pairs/`` as
``<task>-baseline`` and ``<task>-fusion-l<k>``, and loaded on the first request for their task, so
that a start that never opens the tab pays nothing. They keep their LoRA adapters apart from the
base encoder, which every model of the process shares (one copy of the encoder's weights).
"""

from __future__ import annotations

import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from fusion.model.modeling import PAIR_TASKS
from fusion.tagging.pairs import MAX_PAIR_TOKENS, classify_pairs, encode_pairs
from serve.paths import PAIR_CHECKPOINTS
from serve.slots import SIDES, TaggerSlot, find_fusion_checkpoint, load_slot

SENTENCE_LIMIT = 1_000  # characters of each sentence: XNLI's longest premise has ~400
TASK_TITLES = {"xnli": "XNLI: does the first sentence imply the second?",
               "pawsx": "PAWS-X: do the two sentences say the same thing?"}
# what each label means, as the page says it
LABEL_WORDS = {"xnli": {"entailment": "entailment (the second follows)", "neutral": "neutral (it may or may not)",
                        "contradiction": "contradiction (it cannot be true)"},
               "pawsx": {"1": "paraphrase", "0": "not a paraphrase"}}


@dataclass(frozen=True)
class PairAnswer:
    label: str  # the dataset's label, e.g. "entailment" or "1"
    words: str  # the label as the page says it
    probabilities: dict[str, float]  # label words -> probability


@dataclass
class PairView:
    task: str
    answers: dict[str, PairAnswer] = field(default_factory=dict)  # side -> answer, for loaded sides
    notes: list[str] = field(default_factory=list)  # what was cut, what is missing

    @property
    def agree(self) -> bool | None:
        labels = {answer.label for answer in self.answers.values()}
        return None if len(self.answers) < 2 else len(labels) == 1


@dataclass(frozen=True)
class PairExplanation:
    tokens: list[str]
    second_starts: int  # index of the second sentence's first token
    attention: list[list[float]]  # tokens × tokens, one head of one layer
    gate_shares: list[float] | None  # per token, the share of the last layer (None: the baseline)


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=len(SIDES), thread_name_prefix="pairs")


def pair_checkpoints(root: Path = PAIR_CHECKPOINTS) -> dict[str, dict[str, Path | None]]:
    """task -> side -> checkpoint directory (None where none is shipped)."""
    found = {}
    for task in PAIR_TASKS:
        baseline = Path(root) / f"{task}-baseline"
        found[task] = {"baseline": baseline if (baseline / "tagger_config.json").is_file() else None,
                       "fusion": find_fusion_checkpoint(root, prefix=f"{task}-")}
    return found


def bounded(first: str, second: str) -> tuple[str, str, list[str]]:
    """Each sentence cut to SENTENCE_LIMIT characters, with a note for each cut."""
    notes = []
    texts = []
    for name, text in (("first", first or ""), ("second", second or "")):
        text = text.replace("\x00", "").strip()
        if len(text) > SENTENCE_LIMIT:
            notes.append(f"The {name} sentence has {len(text):,} characters; only the first {SENTENCE_LIMIT:,} were read.")
            text = text[:SENTENCE_LIMIT]
        texts.append(text)
    return texts[0], texts[1], notes


class PairService:
    def __init__(self, directories: dict[str, dict[str, Path | None]] | None = None, trust_unverified: bool = False,
                 attach=None):
        """`attach(slots)`, when given, gives loaded classifiers their fast runtime (the app's
        `serve.slots.attach_runtimes` with its graph cache: the same runtime as Compare)."""
        self.directories = pair_checkpoints() if directories is None else directories
        self.trust_unverified = trust_unverified
        self.attach = attach
        self._slots: dict[str, dict[str, TaggerSlot]] = {}
        self._lock = threading.Lock()

    @property
    def tasks(self) -> list[str]:
        """Tasks with at least one shipped classifier."""
        return [task for task, sides in self.directories.items() if any(sides.values())]

    def slots(self, task: str) -> dict[str, TaggerSlot]:
        """The task's two classifiers, loaded on first use (or the reason each is missing)."""
        if task not in PAIR_TASKS:
            raise ValueError(f"unknown task {task!r}; choose one of {', '.join(PAIR_TASKS)}")
        with self._lock:
            if task not in self._slots:
                sides = self.directories.get(task, {})
                self._slots[task] = {side: load_slot(side, sides.get(side), merge=False,
                                                     trust_unverified=self.trust_unverified)
                                     for side in SIDES}
                if self.attach is not None:  # in the background: the first answer comes from torch
                    self.attach(self._slots[task])
            return self._slots[task]

    def use(self, task: str, slots: dict[str, TaggerSlot]) -> None:
        """Serve `task` with classifiers loaded elsewhere (a bench's, a test's)."""
        with self._lock:
            self._slots[task] = slots

    def classify(self, task: str, first: str, second: str) -> PairView:
        first, second, notes = bounded(first, second)
        view = PairView(task, notes=notes)
        if not first or not second:
            view.notes.append("Write two sentences: the pair is classified as a whole.")
            return view
        slots = self.slots(task)
        for side, slot in slots.items():
            if not slot.ready:
                view.notes.append(f"No {side} model for {task}: {slot.error}")
        ready = {side: slot for side, slot in slots.items() if slot.ready}
        # both models at once, one thread each, as Compare runs its two taggers
        answers = dict(zip(ready, _pool().map(lambda slot: classify_pairs(slot.tagger, [(first, second)]),
                                              ready.values())))
        for side, slot in ready.items():
            labels, probabilities, cut = answers[side]
            names = slot.tagger.config.labels
            words = LABEL_WORDS[task]
            view.answers[side] = PairAnswer(names[labels[0]], words[names[labels[0]]],
                                            {words[name]: float(p) for name, p in zip(names, probabilities[0])})
            if cut and side == "baseline":
                view.notes.append(f"The pair is longer than {MAX_PAIR_TOKENS} tokens; the longer sentence was cut to fit.")
        return view

    def explain(self, task: str, side: str, first: str, second: str, layer: int, head: int) -> PairExplanation:
        """One model's attention (layer 1.., head 1..) across the pair, and its gate per token."""
        import torch

        slot = self.slots(task)[side]
        if not slot.ready:
            raise ValueError(f"no {side} model for {task}: {slot.error}")
        classifier = slot.tagger
        first, second, _ = bounded(first, second)
        (ids,), _ = encode_pairs(classifier, [(first, second)])
        if not 1 <= layer <= classifier.n_layers or not 1 <= head <= classifier.n_heads:
            raise ValueError(f"layer must be 1..{classifier.n_layers} and head 1..{classifier.n_heads}")
        with torch.no_grad():
            tensor = torch.tensor([ids])
            _, gates, out = classifier.features(tensor, torch.ones_like(tensor), output_attentions=True)
        tokens = classifier.tokenizer.convert_ids_to_tokens(ids)
        separators = [i for i, token_id in enumerate(ids) if token_id == classifier.tokenizer.sep_token_id]
        return PairExplanation(tokens, separators[0] + 1 if separators else len(ids),
                               out.attentions[layer - 1][0, head - 1].tolist(),
                               None if gates is None else gates[0].mean(-1).tolist())
