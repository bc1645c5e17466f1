"""English intermediate-task training: LoRA adapters trained on one English task first, then
used as the starting point of NER training (the setting of Phang et al. 2020).

One model per task kind puts a small head on the adapted encoder:
* token (chunking, POS): a label per word, read from the word's label position, as the tagger does;
* sentence / pair (SST-2; RTE, MRPC): the masked mean of the last layer -> classes;
* span (SQuAD): start and end logits per token over a window holding the answer.

The encoder is adapted exactly as a tagger's (`prepare_encoder`, same LoRA settings), so the
adapters carry over to `python -m fusion train --start-from DIR` by name; the head is dropped.
The stage does not depend on the tagger: one run per task and seed starts both NER taggers.

Each task is capped so a run fits the CPU: at most `max_examples` examples and `max_tokens`
training tokens (the first examples in file order until either is spent), one epoch by default.
The cap and what was actually used go into ``intermediate_config.json``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from fusion.data.alignment import align_labels
from fusion.data.tasks import INTERMEDIATE_TASKS, load_task, task_labels
from fusion.model.encoders import OFFLINE_ENCODER, build_encoder
from fusion.model.modeling import IGNORE_INDEX, TaggerConfig, prepare_encoder
from fusion.tagging.batching import frame_token_ids, length_grouped_batches, pad_batch
from fusion.training.loop import (load_resume, optimizer_and_schedule, run_settings, save_resume, set_seed,
                                  train_steps)

CONFIG_FILE = "intermediate_config.json"
ADAPTERS_FILE = "adapters.safetensors"
MAX_SPAN_TOKENS = 30  # longest answer considered when reading a span back


class IntermediateError(ValueError):
    """An intermediate checkpoint that cannot be used; the message names the file."""


@dataclass
class IntermediateOptions:
    """Options of `python -m fusion intermediate` (each field is a flag)."""

    task: str = field(metadata={"help": "chunking, pos, sst2, rte, mrpc or squad"})
    data: str = field(metadata={"help": "data root holding intermediate/ and udpos/ (e.g. ../shared/data)"})
    output_dir: str = field(metadata={"help": "where the adapters, their config and the resume state go"})
    encoder: str = field(default=OFFLINE_ENCODER, metadata={
        "help": "the offline e5 (default), a Hugging Face id, or a local directory"})
    max_examples: int = field(default=10_000, metadata={"help": "cap: first N training examples"})
    max_tokens: int = field(default=250_000, metadata={
        "help": "cap: training tokens (keeps the tasks' compute comparable)"})
    max_dev_examples: int = field(default=1_000, metadata={"help": "first N dev examples scored"})
    epochs: int = field(default=1, metadata={"help": "passes over the capped training examples"})
    learning_rate: float = field(default=1e-3, metadata={"help": "as the tagger's LoRA training"})
    batch_size: int = field(default=16, metadata={"help": "examples per step"})
    max_batch_tokens: int = field(default=2048, metadata={"help": "fewer examples per batch when long"})
    max_length: int = field(default=192, metadata={
        "help": "tokens per example (pairs are truncated, SQuAD contexts are windowed)"})
    seed: int = field(default=13, metadata={"help": "initialisation, dropout and batch order"})
    save_every: int = field(default=100, metadata={"help": "steps between resume points"})


@dataclass
class Encoded:
    """One training or dev example as the model sees it."""

    input_ids: list[int]  # framed by the special tokens
    target: list[int] | int | tuple[int, int]  # per token / class id / (start, end) token


class IntermediateModel(nn.Module):
    """The adapted encoder plus one linear head for the task's kind."""

    def __init__(self, config: TaggerConfig, kind: str, n_outputs: int, encoder=None, tokenizer=None):
        super().__init__()
        if encoder is None:
            encoder, tokenizer = build_encoder(config.encoder)
        self.config, self.kind, self.tokenizer = config, kind, tokenizer
        self.encoder, base_names = prepare_encoder(encoder, config)
        self.base_names = frozenset(f"encoder.{name}" for name in base_names)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(encoder.config.hidden_size, 2 if kind == "span" else n_outputs)

    def forward(self, input_ids, attention_mask, targets=None):
        """Returns (logits, loss): B×T×labels (token), B×classes (sentence, pair), B×T×2 (span)."""
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              return_dict=True).last_hidden_state
        if self.kind in ("sentence", "pair"):
            weights = attention_mask.unsqueeze(-1).to(states.dtype)
            states = (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        logits = self.head(self.dropout(states))
        if targets is None:
            return logits, None
        if self.kind == "span":
            masked = logits.masked_fill(attention_mask.unsqueeze(-1) == 0, -1e4)
            loss = (nn.functional.cross_entropy(masked[..., 0], targets[:, 0])
                    + nn.functional.cross_entropy(masked[..., 1], targets[:, 1])) / 2
        else:
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                               targets.reshape(-1), ignore_index=IGNORE_INDEX)
        return logits, loss

    def adapter_state(self) -> dict[str, torch.Tensor]:
        """The trained encoder weights (LoRA adapters), named as in a TokenTagger."""
        return {name: t.detach().cpu().contiguous() for name, t in self.state_dict().items()
                if name.startswith("encoder.") and name not in self.base_names}


# --------------------------------------------------------------------------------------------
# Examples -> token ids
# --------------------------------------------------------------------------------------------

def encode_examples(kind: str, examples, tokenizer, label2id: dict[str, int],
                    max_length: int) -> list[Encoded]:
    """Token ids and targets; token examples longer than `max_length` are cut into chunks, pairs
    truncated (longest first), SQuAD contexts cut to the window that holds the answer."""
    first, last = frame_token_ids(tokenizer)
    encoded: list[Encoded] = []
    for example in examples:
        if kind == "token":
            enc = tokenizer(example.words, is_split_into_words=True, add_special_tokens=False)
            labels = align_labels(enc.tokens(), enc.word_ids(), example.tags, label2id)
            ids, size = enc["input_ids"], max_length - 2
            for start in range(0, max(len(ids), 1), size):
                chunk = labels[start:start + size]
                if any(label != IGNORE_INDEX for label in chunk):
                    encoded.append(Encoded([first] + ids[start:start + size] + [last],
                                           [IGNORE_INDEX] + chunk + [IGNORE_INDEX]))
        elif kind in ("sentence", "pair"):
            enc = tokenizer(example.text, example.pair, truncation=True, max_length=max_length)
            encoded.append(Encoded(enc["input_ids"], label2id[example.label]))
        else:
            span = _span_window(example, tokenizer, max_length)
            if span is not None:
                encoded.append(span)
    return encoded


def _span_window(example, tokenizer, max_length: int) -> Encoded | None:
    """The first window of question + context that holds the whole answer (None if none does)."""
    enc = tokenizer(example.question, example.context, truncation="only_second",
                    max_length=max_length, stride=max_length // 3, return_overflowing_tokens=True,
                    return_offsets_mapping=True)
    for window in range(len(enc["input_ids"])):
        offsets, sequence = enc["offset_mapping"][window], enc.sequence_ids(window)
        context = [i for i, s in enumerate(sequence) if s == 1]
        starts = [i for i in context if offsets[i][0] <= example.answer_start < offsets[i][1]]
        ends = [i for i in context if offsets[i][0] < example.answer_end <= offsets[i][1]]
        if starts and ends:
            return Encoded(enc["input_ids"][window], (starts[0], ends[-1]))
    return None


def apply_caps(encoded: list[Encoded], max_examples: int, max_tokens: int) -> list[Encoded]:
    """The first encoded examples until `max_examples` or `max_tokens` is reached."""
    kept, tokens = [], 0
    for item in encoded[:max_examples]:
        if tokens + len(item.input_ids) > max_tokens:
            break
        kept.append(item)
        tokens += len(item.input_ids)
    return kept


def collate(model: IntermediateModel, items: list[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    ids = [item.input_ids for item in items]
    if model.kind == "token":
        batch = pad_batch(ids, pad_id, [item.target for item in items])
        batch["targets"] = batch.pop("labels")
        return batch
    batch = pad_batch(ids, pad_id)
    batch["targets"] = torch.tensor([item.target for item in items], dtype=torch.long)
    return batch


# --------------------------------------------------------------------------------------------
# Dev score
# --------------------------------------------------------------------------------------------

@torch.no_grad()
def dev_score(model: IntermediateModel, encoded: list[Encoded], pad_id: int,
              batch_size: int = 32) -> float:
    """Accuracy: over labelled words (token), examples (sentence, pair), or exact answer spans
    in tokens (span, the best start ≤ end within MAX_SPAN_TOKENS)."""
    model.eval()
    device = next(model.parameters()).device
    right = total = 0
    for begin in range(0, len(encoded), batch_size):
        batch = {k: v.to(device) for k, v in collate(model, encoded[begin:begin + batch_size], pad_id).items()}
        targets = batch.pop("targets")
        logits, _ = model(**batch)
        if model.kind == "token":
            labelled = targets != IGNORE_INDEX
            right += int((logits.argmax(-1)[labelled] == targets[labelled]).sum())
            total += int(labelled.sum())
            continue
        if model.kind == "span":
            logits = logits.masked_fill(batch["attention_mask"].unsqueeze(-1) == 0, -1e4)
            scores = logits[..., 0].unsqueeze(2) + logits[..., 1].unsqueeze(1)  # B × start × end
            n = scores.shape[1]
            allowed = torch.ones(n, n, dtype=torch.bool, device=device).triu().tril(MAX_SPAN_TOKENS - 1)
            best = scores.masked_fill(~allowed, -1e9).flatten(1).argmax(1)
            predicted = torch.stack([best // n, best % n], 1)
            right += int((predicted == targets).all(1).sum())
        else:
            right += int((logits.argmax(-1) == targets).sum())
        total += len(targets)
    return right / total if total else 0.0


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------

def _file_hashes(root: Path, files: tuple[str, ...]) -> dict[str, str]:
    return {name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in files}


def train_intermediate(options: IntermediateOptions, show_progress: bool = True,
                       model: IntermediateModel | None = None) -> dict:
    """Train the adapters on one English task; save them and their config. Returns the config.

    Resumable: rerunning the same command continues from the last resume point. `model` lets
    tests pass a tiny one (it must match the task's kind and labels).
    """
    if options.task not in INTERMEDIATE_TASKS:
        raise ValueError(f"unknown task {options.task!r}; known: {', '.join(INTERMEDIATE_TASKS)}")
    task = INTERMEDIATE_TASKS[options.task]
    output = Path(options.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    set_seed(options.seed)
    # The caps apply after encoding: chunked or unanswerable examples change the count.
    train_examples = load_task(options.data, options.task, "train", options.max_examples)
    dev_examples = load_task(options.data, options.task, "dev", options.max_dev_examples)
    labels = [] if task.kind == "span" else task_labels(options.task, train_examples)
    if model is None:
        model = IntermediateModel(TaggerConfig(encoder=options.encoder), task.kind, len(labels))
    label2id = {label: i for i, label in enumerate(labels)}
    tokenizer = model.tokenizer
    encoded = apply_caps(encode_examples(task.kind, train_examples, tokenizer, label2id,
                                         options.max_length), options.max_examples, options.max_tokens)
    dev = encode_examples(task.kind, [e for e in dev_examples if task.kind == "span" or
                                      _known_labels(e, label2id)], tokenizer, label2id,
                          options.max_length)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    lengths = [len(item.input_ids) for item in encoded]
    trainable, optimizer, scheduler, _ = optimizer_and_schedule(model, lengths, options)
    state = load_resume(output, model, optimizer, scheduler, run_settings(options)) or {
        "settings": run_settings(options), "epoch": 0, "step_in_epoch": 0, "seconds": 0.0, "losses": []}
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def loss_of(rows: list[int]):
        batch = collate(model, [encoded[i] for i in rows], pad_id)
        return model(**{k: v.to(device) for k, v in batch.items()})[1]  # (outputs, loss)

    while state["epoch"] < options.epochs:
        order = length_grouped_batches(lengths, options.batch_size, options.seed + state["epoch"],
                                       options.max_batch_tokens)
        model.train()
        train_steps(model, order, loss_of, trainable, optimizer, scheduler, state, output,
                    options.save_every, f"{options.task} epoch {state['epoch'] + 1}", show_progress)
        state["epoch"], state["step_in_epoch"] = state["epoch"] + 1, 0
        save_resume(output, model, optimizer, scheduler, state)

    score = dev_score(model, dev, pad_id)
    info = {
        "format_version": 1,
        "task": options.task, "domain": task.domain, "kind": task.kind,
        "description": task.description, "labels": labels,
        "data": {"root": str(options.data), "files": _file_hashes(Path(options.data), task.files)},
        "cap": {"max_examples": options.max_examples, "max_tokens": options.max_tokens,
                "max_length": options.max_length},
        "examples": len(encoded), "tokens": sum(lengths), "dev_examples": len(dev),
        "epochs": options.epochs, "seed": options.seed,
        "dev_metric": "token accuracy" if task.kind == "token" else
                      "exact span (tokens)" if task.kind == "span" else "accuracy",
        "dev_score": score, "train_seconds": round(state["seconds"], 1),
        "final_loss": sum(state["losses"][-50:]) / max(1, len(state["losses"][-50:])),
        "adapter_config": model.config.to_dict(), "options": asdict(options),
    }
    save_adapters(model, output, info)
    return info


def _known_labels(example, label2id: dict[str, int]) -> bool:
    """Dev examples whose labels the training examples had (a rare tag may occur only in dev)."""
    tags = example.tags if hasattr(example, "tags") else [example.label]
    return all(tag in label2id for tag in tags)


# --------------------------------------------------------------------------------------------
# Saving and carrying the adapters over
# --------------------------------------------------------------------------------------------

def save_adapters(model: IntermediateModel, directory: Path, info: dict) -> None:
    from safetensors.torch import save_file

    save_file(model.adapter_state(), str(directory / ADAPTERS_FILE), metadata={"format": "pt"})
    info["adapters_sha256"] = hashlib.sha256((directory / ADAPTERS_FILE).read_bytes()).hexdigest()
    (directory / CONFIG_FILE).write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n",
                                         encoding="utf-8")


def read_intermediate(directory: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """The config and adapter weights of a finished intermediate run (safetensors + JSON only)."""
    from safetensors.torch import load_file

    directory = Path(directory)
    path, weights_path = directory / CONFIG_FILE, directory / ADAPTERS_FILE
    if not path.is_file() or not weights_path.is_file():
        raise IntermediateError(f"{directory}: not a finished intermediate run (expected "
                                f"{CONFIG_FILE} and {ADAPTERS_FILE})")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        weights = load_file(str(weights_path))
    except Exception as error:  # JSON or safetensors errors: one clear message
        raise IntermediateError(f"{directory}: unreadable ({type(error).__name__}: {error})") from error
    if hashlib.sha256(weights_path.read_bytes()).hexdigest() != info.get("adapters_sha256"):
        raise IntermediateError(f"{weights_path}: does not match the sha256 in {CONFIG_FILE}")
    return info, weights


# Settings that must agree for adapters to mean the same thing in the tagger.
_ADAPTER_FIELDS = ("encoder", "tuning", "lora_rank", "lora_alpha", "lora_targets")


def start_from_intermediate(tagger, directory: str | Path) -> dict:
    """Load the adapters of an intermediate run into `tagger`'s encoder; returns what the NER
    checkpoint records about that stage (task, data, examples, epochs, seed, dev score, hash)."""
    info, weights = read_intermediate(directory)
    adapter_config = info.get("adapter_config", {})
    differs = [name for name in _ADAPTER_FIELDS
               if adapter_config.get(name) != getattr(tagger.config, name)]
    if differs:
        raise IntermediateError(f"{directory}: adapters were trained with other settings "
                                f"({', '.join(differs)}) than this tagger's")
    own = {name: p for name, p in tagger.named_parameters() if name.startswith("encoder.")
           and name not in tagger.base_names}
    if set(own) != set(weights):
        raise IntermediateError(f"{directory}: adapter names do not match this tagger's encoder")
    with torch.no_grad():
        for name, tensor in weights.items():
            own[name].copy_(tensor)
    return {key: info[key] for key in ("task", "domain", "kind", "data", "cap", "examples", "tokens",
                                       "epochs", "seed", "dev_metric", "dev_score", "adapters_sha256")}
