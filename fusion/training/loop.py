"""What every training run here shares (the NER/POS tagger, the sentence-pair classifier and the
intermediate-task model): seeding, AdamW with a linear warm-up schedule, one epoch's optimisation
steps, the progress log, and resume points saved as safetensors + JSON (no pickle), so that an
interrupted run continues where it stopped."""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch

from fusion.model.checkpoint import changed_state
from fusion.tagging.batching import length_grouped_batches

LOG_FILE = "train_log.jsonl"
RESUME_DIR = "resume"


def set_seed(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def log_entry(directory: Path, entry: dict) -> None:
    with (directory / LOG_FILE).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


def save_resume(directory: Path, tagger, optimizer, scheduler, state: dict) -> None:
    """Trainable weights, optimizer moments and RNG as safetensors; the rest as JSON (no pickle)."""
    from safetensors.torch import save_file

    resume = directory / RESUME_DIR
    resume.mkdir(parents=True, exist_ok=True)
    save_file(changed_state(tagger), str(resume / "weights.safetensors"))
    optimizer_state = optimizer.state_dict()
    tensors = {f"{index}.{key}": value.detach().cpu().contiguous()
               for index, moments in optimizer_state["state"].items() for key, value in moments.items()}
    tensors["torch_rng"] = torch.get_rng_state()
    save_file(tensors, str(resume / "optimizer.safetensors"))
    extra = {"param_groups": optimizer_state["param_groups"], "scheduler": scheduler.state_dict()}
    (resume / "state.json").write_text(json.dumps({**state, "resume": extra}, indent=1), encoding="utf-8")


def run_settings(options) -> dict:
    """What defines a run, kept in its resume points: every option but where the run is written
    and how often (JSON's view of them, as a resume point stores them)."""
    settings = {k: v for k, v in asdict(options).items() if k not in ("output_dir", "save_every")}
    return json.loads(json.dumps(settings))


def load_resume(directory: Path, tagger, optimizer, scheduler, settings: dict) -> dict | None:
    """The state of the run's last resume point, its weights, moments and RNG restored; None when
    there is none. A resume point of another run (a different learning rate, layer, seed...) is
    refused: continuing it would train a mixture and record it under the new settings."""
    from safetensors.torch import load_file

    resume = directory / RESUME_DIR
    if not (resume / "state.json").is_file():
        return None
    state = json.loads((resume / "state.json").read_text(encoding="utf-8"))
    stored = state.get("settings", settings)  # resume points older than the check carry none
    differ = sorted(key for key in stored.keys() | settings.keys() if stored.get(key) != settings.get(key))
    if differ:
        said = "; ".join(f"{key}: {stored.get(key)!r} there, {settings.get(key)!r} now" for key in differ)
        raise ValueError(f"{directory} holds a resume point of another run ({said}): give another "
                         "output directory, or the same options to continue it")
    extra = state.pop("resume")
    weights = load_file(str(resume / "weights.safetensors"))
    with torch.no_grad():
        for name, parameter in tagger.named_parameters():
            if name in weights:
                parameter.copy_(weights[name])
    tensors = load_file(str(resume / "optimizer.safetensors"))
    torch.set_rng_state(tensors.pop("torch_rng"))
    moments: dict[int, dict] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        moments.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": moments, "param_groups": extra["param_groups"]})
    scheduler.load_state_dict(extra["scheduler"])
    return state


def optimizer_and_schedule(model, lengths: list[int], options):
    """AdamW over the trainable weights with a linear schedule (10 % warm-up) over every step of
    `options.epochs` length-grouped epochs. Returns (trainable, optimizer, scheduler, steps per
    epoch). `options` needs batch_size, seed, max_batch_tokens, epochs and learning_rate; the
    tagger and the intermediate-task model train with the same recipe."""
    from transformers import get_linear_schedule_with_warmup

    steps_per_epoch = len(length_grouped_batches(lengths, options.batch_size, options.seed,
                                                 options.max_batch_tokens))
    total_steps = steps_per_epoch * options.epochs
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=options.learning_rate, weight_decay=0.01)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.1 * total_steps), total_steps)
    return trainable, optimizer, scheduler, steps_per_epoch


def train_steps(model, batches: list, loss_of: Callable, trainable: list, optimizer, scheduler, state: dict,
                output: Path, save_every: int, desc: str, show_progress: bool = True,
                accelerator=None) -> tuple[list[float], float]:
    """One epoch's optimisation steps, from `state["step_in_epoch"]` on: a batch's loss
    (`loss_of(batches[step])`), backward, gradients clipped at norm 1.0, AdamW and schedule steps.
    The mean loss of every 50 steps goes to the log, and a resume point is saved every `save_every`
    steps. With an `accelerator` (fusion/training/train.py) its backward and clipping are used and
    only its main process writes. A state that keeps every step's loss (a "losses" list, the
    intermediate tasks') gets it here, so that a resume point carries it; `state["seconds"]` grows
    by the steps' time. Returns the losses of the steps run and the time they started."""
    from tqdm.auto import tqdm

    writes = accelerator is None or accelerator.is_main_process
    backward = accelerator.backward if accelerator is not None else torch.Tensor.backward
    clip = accelerator.clip_grad_norm_ if accelerator is not None else torch.nn.utils.clip_grad_norm_
    epoch = state["epoch"]
    bar = tqdm(total=len(batches), initial=state["step_in_epoch"], desc=desc, disable=not show_progress or not writes)
    started, running = time.time(), []
    for step in range(state["step_in_epoch"], len(batches)):
        loss = loss_of(batches[step])
        backward(loss)
        clip(trainable, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        running.append(loss.item())
        if "losses" in state:
            state["losses"].append(round(running[-1], 4))
        bar.update(1)
        if (step + 1) % 50 == 0:
            recent = sum(running[-50:]) / len(running[-50:])
            bar.set_postfix(loss=f"{recent:.4f}")
            if writes:
                log_entry(output, {"epoch": epoch + 1, "step": step + 1, "loss": recent})
        if (step + 1) % save_every == 0 and writes:
            state["step_in_epoch"] = step + 1
            save_resume(output, model, optimizer, scheduler,
                        {**state, "seconds": state["seconds"] + time.time() - started})
    bar.close()
    state["seconds"] += time.time() - started
    return running, started
