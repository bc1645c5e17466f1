"""Fine-tune a tagger on the source language (English by default); pick the best epoch on that
language's dev set only (zero-shot: target languages are never looked at).

The same code runs on the CPU, one GPU or several (launch with `accelerate launch -m fusion
train ...`; `accelerate` places the model and shards the batches). Training is resumable: a
``resume/`` folder in the output directory holds the last finished step (trainable weights,
optimizer, scheduler, RNG), and rerunning the same command continues from it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fusion.data.alignment import align_labels
from fusion.data.ner import load_split
from fusion.data.upos import UPOS_TAGS, read_upos
from fusion.evaluation.evaluate import evaluate_dataset, predict_dataset
from fusion.evaluation.pos import accuracy, sentence_counts
from fusion.model.checkpoint import save_tagger
from fusion.model.encoders import OFFLINE_ENCODER
from fusion.model.modeling import IGNORE_INDEX, TaggerConfig, TokenTagger
from fusion.tagging.batching import frame_token_ids, length_grouped_batches, max_window_tokens, pad_batch
from fusion.training.loop import (load_resume, log_entry, optimizer_and_schedule, run_settings, save_resume,
                                  set_seed, train_steps)


@dataclass
class TrainOptions:
    """Options of `python -m fusion train` (each field is a flag)."""

    output_dir: str = field(metadata={
        "help": "where the checkpoint, its log and the resume state go"})
    data: str = field(metadata={
        "help": 'PAN-X directory (e.g. ../shared/data/wikiann), or "wikiann" for the hub (online)'})
    encoder: str = field(default=OFFLINE_ENCODER, metadata={
        "help": "the offline e5 (default), a Hugging Face id, or a local directory"})
    fusion_layer: int | None = field(default=None, metadata={
        "help": "None = baseline; k = fuse layer k (0 = embeddings)"})
    language: str = field(default="en", metadata={
        "help": "source language: train and dev come from it only"})
    epochs: int = field(default=3, metadata={
        "help": "passes over the training sentences; the best one on dev is kept"})
    learning_rate: float = field(default=1e-3, metadata={
        "help": "1e-3 suits LoRA; use ~5e-5 with tuning=full"})
    batch_size: int = field(default=16, metadata={
        "help": "sentences per step (fewer when long: see max_batch_tokens)"})
    max_batch_tokens: int = field(default=2048, metadata={
        "help": "fewer sentences per batch when they are long (memory)"})
    seed: int = field(default=13, metadata={
        "help": "initialisation, dropout and batch order"})
    max_train_sentences: int | None = field(default=None, metadata={
        "help": "first N training sentences (all when None)"})
    max_dev_sentences: int | None = field(default=None, metadata={
        "help": "first N dev sentences for epoch selection"})
    tuning: str = field(default="lora", metadata={
        "help": "lora (small checkpoints), full (every encoder weight), frozen"})
    save_every: int = field(default=200, metadata={
        "help": "steps between resume points"})
    start_from: str | None = field(default=None, metadata={
        "help": "an intermediate-task run (python -m fusion intermediate): start from its adapters"})
    task: str = field(default="ner", metadata={
        "help": "ner (data: PAN-X), or pos (data: UD-POS, e.g. ../shared/data/udpos; UPOS accuracy)"})


def dev_score(tagger, dataset) -> float:
    """What chooses the epoch: entity F1 for NER, word accuracy for POS."""
    if tagger.config.task == "pos":
        return accuracy(sentence_counts(dataset["ner_tags"], predict_dataset(tagger, dataset)))
    return evaluate_dataset(tagger, dataset)["f1"]


def encode_dataset(dataset, tokenizer, label2id: dict[str, int], max_tokens: int):
    """Token ids and aligned labels per sentence; sentences longer than `max_tokens` are split into
    consecutive chunks (never silently cut). Returns (examples, n_split_sentences)."""
    first, last = frame_token_ids(tokenizer)
    examples, n_split = [], 0
    for words, tags in zip(dataset["tokens"], dataset["ner_tags"]):
        enc = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
        labels = align_labels(enc.tokens(), enc.word_ids(), tags, label2id)
        ids = enc["input_ids"]
        n_split += len(ids) > max_tokens
        for start in range(0, max(len(ids), 1), max_tokens):
            chunk_labels = labels[start:start + max_tokens]
            if all(label == IGNORE_INDEX for label in chunk_labels):
                continue
            examples.append(([first] + ids[start:start + max_tokens] + [last],
                             [IGNORE_INDEX] + chunk_labels + [IGNORE_INDEX]))
    return examples, n_split


def train(options: TrainOptions, show_progress: bool = True, tagger: TokenTagger | None = None) -> dict:
    """Train, keep the best epoch by source-language dev F1, save it; returns the training summary.

    `tagger` lets tests pass a tiny model; by default one is built from the options.
    """
    from accelerate import Accelerator

    output = Path(options.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    accelerator = Accelerator()
    set_seed(options.seed)
    if tagger is None:
        tagger = TokenTagger(TaggerConfig(
            encoder=options.encoder, fusion_layer=options.fusion_layer, tuning=options.tuning,
            task=options.task, **({"labels": list(UPOS_TAGS)} if options.task == "pos" else {})))
    config = tagger.config
    tokenizer = tagger.tokenizer
    intermediate = None
    if options.start_from:
        from fusion.training.intermediate import start_from_intermediate

        intermediate = start_from_intermediate(tagger, options.start_from)

    if config.task != options.task:
        raise ValueError(f"the tagger is for {config.task}, the options say {options.task}")
    train_set, dev_set = (
        (read_upos(options.data, options.language, split, limit) if config.task == "pos" else
         load_split(options.data, options.language, split, limit, labels=config.labels))
        for split, limit in (("train", options.max_train_sentences), ("dev", options.max_dev_sentences)))
    metric = "accuracy" if config.task == "pos" else "f1"  # on the source language's dev set
    examples, n_split = encode_dataset(train_set, tokenizer, config.label2id, max_window_tokens(tagger))
    if n_split:
        accelerator.print(f"{n_split} training sentences were longer than the encoder and were "
                          "split into chunks")
    lengths = [len(ids) for ids, _ in examples]
    trainable, optimizer, scheduler, steps_per_epoch = optimizer_and_schedule(tagger, lengths, options)
    tagger, optimizer, scheduler = accelerator.prepare(tagger, optimizer, scheduler)
    model = accelerator.unwrap_model(tagger)

    state = load_resume(output, model, optimizer, scheduler, run_settings(options)) or {
        "settings": run_settings(options), "epoch": 0, "step_in_epoch": 0, "best_f1": -1.0,
        "best_epoch": None, "history": [], "seconds": 0.0}
    if state["epoch"] or state["step_in_epoch"]:
        accelerator.print(f"resuming at epoch {state['epoch'] + 1}, step {state['step_in_epoch']}")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    settings = {**asdict(options), "train_sentences": len(train_set), "dev_sentences": len(dev_set),
                "steps_per_epoch": steps_per_epoch, "device": str(accelerator.device),
                "processes": accelerator.num_processes,
                "trainable_parameters": sum(p.numel() for p in trainable)}
    if intermediate is not None:
        settings["intermediate"] = intermediate

    def loss_of(batch_rows: list[int]):
        rows = [examples[i] for i in batch_rows]
        batch = pad_batch([ids for ids, _ in rows], pad_id, [labels for _, labels in rows])
        return tagger(**{k: v.to(accelerator.device) for k, v in batch.items()}).loss

    while state["epoch"] < options.epochs:
        epoch = state["epoch"]
        order = length_grouped_batches(lengths, options.batch_size, options.seed + epoch,
                                       options.max_batch_tokens)
        usable = len(order) - len(order) % accelerator.num_processes  # same step count everywhere
        mine = order[:usable][accelerator.process_index::accelerator.num_processes]
        tagger.train()
        running, started = train_steps(model, mine, loss_of, trainable, optimizer, scheduler, state, output,
                                       options.save_every, f"epoch {epoch + 1}", show_progress, accelerator)

        model.eval()
        score = dev_score(model, dev_set)
        entry = {"epoch": epoch + 1, f"dev_{metric}": score,
                 "train_loss": sum(running) / len(running) if running else None,
                 "epoch_seconds": round(time.time() - started, 1)}
        state["history"].append(entry)
        accelerator.print(f"epoch {epoch + 1}: dev {metric} {100 * score:.2f}")
        if accelerator.is_main_process:
            log_entry(output, entry)
            if score > state["best_f1"]:  # "best_f1" holds the dev score, F1 or accuracy
                state["best_f1"], state["best_epoch"] = score, epoch + 1
                save_tagger(model, output, extra={"training": {
                    **settings, "best_epoch": epoch + 1, f"dev_{metric}": score,
                    "history": state["history"], "train_seconds": round(state["seconds"], 1)}})
        state["epoch"], state["step_in_epoch"] = epoch + 1, 0
        if accelerator.is_main_process:
            save_resume(output, model, optimizer, scheduler, state)
    accelerator.wait_for_everyone()
    return {"best_epoch": state["best_epoch"], f"best_dev_{metric}": state["best_f1"],
            "history": state["history"], "output_dir": str(output)}
