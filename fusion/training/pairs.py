"""Fine-tune a sentence-pair classifier (XNLI, PAWS-X) on English; keep the epoch with the best
accuracy on the held-out English pairs (`fusion.data.pairs.english_pairs`): no target language is
looked at. The recipe is the taggers' (fusion/training/loop.py: AdamW, linear warm-up, resume
points); resumable the same way: rerun the same command."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from fusion.data.pairs import english_pairs
from fusion.model.checkpoint import save_tagger
from fusion.model.encoders import OFFLINE_ENCODER
from fusion.model.pairs import PairClassifier, PairConfig
from fusion.tagging.batching import length_grouped_batches, pad_batch
from fusion.tagging.pairs import classify_pairs, encode_pairs
from fusion.training.intermediate import start_from_intermediate
from fusion.training.loop import (load_resume, log_entry, optimizer_and_schedule, run_settings, save_resume,
                                  set_seed, train_steps)


@dataclass
class PairTrainOptions:
    """Options of `python -m fusion train-pairs` (each field is a flag)."""

    output_dir: str = field(metadata={"help": "where the checkpoint, its log and the resume state go"})
    data: str = field(metadata={
        "help": 'data directory holding xnli/ and pawsx/ (e.g. ../shared/data), or "hub" (online)'})
    task: str = field(default="xnli", metadata={"help": "xnli or pawsx"})
    encoder: str = field(default=OFFLINE_ENCODER, metadata={
        "help": "the offline e5 (default), a Hugging Face id, or a local directory"})
    fusion_layer: int | None = field(default=None, metadata={
        "help": "None = baseline; k = fuse layer k (0 = embeddings)"})
    pooling: str = field(default="mean", metadata={"help": "mean (of the pair's tokens) or first (token)"})
    epochs: int = field(default=3, metadata={"help": "passes over the training pairs; the best one is kept"})
    learning_rate: float = field(default=1e-3, metadata={"help": "1e-3 suits LoRA; ~5e-5 with tuning=full"})
    batch_size: int = field(default=16, metadata={"help": "pairs per step (fewer when long)"})
    max_batch_tokens: int = field(default=2048, metadata={"help": "fewer pairs per batch when they are long"})
    seed: int = field(default=13, metadata={"help": "initialisation, dropout and batch order"})
    max_train_pairs: int | None = field(default=None, metadata={"help": "first N training pairs (all when None)"})
    tuning: str = field(default="lora", metadata={"help": "lora, full or frozen"})
    save_every: int = field(default=100, metadata={"help": "steps between resume points"})
    start_from: str | None = field(default=None, metadata={
        "help": "an intermediate-task run (python -m fusion intermediate): start from its adapters"})


def held_out_accuracy(classifier: PairClassifier, pairs) -> float:
    predicted, _, _ = classify_pairs(classifier, [(p.first, p.second) for p in pairs])
    return sum(p == pair.label for p, pair in zip(predicted, pairs)) / len(pairs) if pairs else 0.0


def train_pairs(options: PairTrainOptions, show_progress: bool = True,
                classifier: PairClassifier | None = None) -> dict:
    """Train, keep the best epoch by held-out English accuracy, save it; returns the summary.
    `classifier` lets tests pass a tiny model."""
    output = Path(options.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    set_seed(options.seed)
    if classifier is None:
        classifier = PairClassifier(PairConfig(encoder=options.encoder, task=options.task,
                                               fusion_layer=options.fusion_layer, tuning=options.tuning,
                                               pooling=options.pooling))
    if classifier.config.task != options.task:
        raise ValueError(f"the classifier is for {classifier.config.task}, the options say {options.task}")
    intermediate = start_from_intermediate(classifier, options.start_from) if options.start_from else None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    classifier.to(device)
    train_set, held = english_pairs(options.data, options.task, options.max_train_pairs)
    if not train_set or not held:
        raise ValueError(f"{options.data}: no English {options.task} pairs to train on or to choose with")
    ids, cut = encode_pairs(classifier, [(p.first, p.second) for p in train_set])
    labels = [pair.label for pair in train_set]
    lengths = [len(row) for row in ids]
    trainable, optimizer, scheduler, steps_per_epoch = optimizer_and_schedule(classifier, lengths, options)
    state = load_resume(output, classifier, optimizer, scheduler, run_settings(options)) or {
        "settings": run_settings(options), "epoch": 0, "step_in_epoch": 0, "best_f1": -1.0, "best_epoch": None,
        "history": [], "seconds": 0.0}
    settings = {**asdict(options), "language": "en", "train_pairs": len(train_set), "held_out_pairs": len(held),
                "train_pairs_cut": cut, "steps_per_epoch": steps_per_epoch, "device": device,
                "trainable_parameters": sum(p.numel() for p in trainable),
                # the names the run records read for every study (fusion/evaluation/runs.py)
                "train_sentences": len(train_set), "dev_sentences": len(held)}
    if intermediate is not None:
        settings["intermediate"] = intermediate
    pad_id = classifier.tokenizer.pad_token_id if classifier.tokenizer.pad_token_id is not None else 0

    def loss_of(rows: list[int]):
        batch = pad_batch([ids[i] for i in rows], pad_id)
        return classifier(batch["input_ids"].to(device), batch["attention_mask"].to(device),
                          labels=torch.tensor([labels[i] for i in rows], device=device)).loss

    while state["epoch"] < options.epochs:
        epoch = state["epoch"]
        order = length_grouped_batches(lengths, options.batch_size, options.seed + epoch, options.max_batch_tokens)
        classifier.train()
        running, started = train_steps(classifier, order, loss_of, trainable, optimizer, scheduler, state, output,
                                       options.save_every, f"epoch {epoch + 1}", show_progress)
        score = held_out_accuracy(classifier, held)
        entry = {"epoch": epoch + 1, "dev_accuracy": score,
                 "train_loss": sum(running) / len(running) if running else None,
                 "epoch_seconds": round(time.time() - started, 1)}
        state["history"].append(entry)
        log_entry(output, entry)
        print(f"epoch {epoch + 1}: held-out English accuracy {100 * score:.2f}")
        if score > state["best_f1"]:  # "best_f1" holds the held-out accuracy, as for POS
            state["best_f1"], state["best_epoch"] = score, epoch + 1
            save_tagger(classifier, output, extra={"training": {
                **settings, "best_epoch": epoch + 1, "dev_accuracy": score, "history": state["history"],
                "train_seconds": round(state["seconds"], 1)}})
        state["epoch"], state["step_in_epoch"] = epoch + 1, 0
        save_resume(output, classifier, optimizer, scheduler, state)
    return {"best_epoch": state["best_epoch"], "best_dev_accuracy": state["best_f1"],
            "history": state["history"], "output_dir": str(output)}
