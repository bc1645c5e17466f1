"""Save / load a tagger as a directory: ``tagger_config.json`` + ``model.safetensors``.

Only what fine-tuning changed relative to the named base encoder is stored (LoRA adapters, the
AIF module, the classifier; every encoder weight for full fine-tuning), so a LoRA checkpoint of
the offline encoder is a few MB. Loading reads JSON and safetensors only: nothing is unpickled
and no remote code runs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from fusion.model.modeling import TaggerConfig, TokenTagger
from fusion.model.pairs import PairClassifier, PairConfig, is_pair_config

CONFIG_FILE = "tagger_config.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT_VERSION = 1
MAX_CONFIG_BYTES = 1_000_000  # a config with its training log is ~3 kB
MAX_WEIGHTS_BYTES = 4_000_000_000  # full fine-tuning of a base-size encoder is ~1.1 GB


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded; the message names the file and the problem."""


def changed_state(tagger: TokenTagger) -> dict[str, torch.Tensor]:
    """Every parameter and buffer except the shared, frozen base encoder weights (on the CPU)."""
    return {name: t.detach().cpu().contiguous() for name, t in tagger.state_dict().items()
            if name not in tagger.base_names}


def label_fingerprint(labels: list[str], classifier_weight: torch.Tensor) -> str:
    """Ties the label list to the classifier rows: a reordered or edited list no longer matches."""
    digest = hashlib.sha256(json.dumps(list(labels)).encode("utf-8"))
    digest.update(classifier_weight.detach().cpu().float().contiguous().numpy().tobytes())
    return digest.hexdigest()


def checkpoint_fingerprint(config: dict, weights_sha256: str) -> str:
    """What a checkpoint proves it is: the sha256 of its whole config (labels and their order, the
    fusion layer, tuning, adapter rank and targets, ...) together with its weights file's sha256.
    An edited label list, fusion layer or rank, or other weights, no longer match. It guards
    against edits and mix-ups, not against someone who recomputes it: trust where a file comes from."""
    canonical = json.dumps({"config": config, "weights_sha256": weights_sha256}, sort_keys=True,
                           ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_tagger(tagger: TokenTagger, directory: str | Path, extra: dict | None = None) -> Path:
    """Write config (+ `extra`, e.g. training settings) and changed weights; returns the directory."""
    from safetensors.torch import save_file

    if tagger.merged or tagger.quantized:
        raise CheckpointError("this tagger was merged or quantised for inference; save it before")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = tagger.config.to_dict()
    weights = changed_state(tagger)
    save_file(weights, str(directory / WEIGHTS_FILE), metadata={"format": "pt"})
    payload = {"format_version": FORMAT_VERSION, "config": config,
               "label_fingerprint": label_fingerprint(tagger.config.labels, tagger.classifier.weight),
               "fingerprint": checkpoint_fingerprint(config, file_sha256(directory / WEIGHTS_FILE)),
               **(extra or {})}
    (directory / CONFIG_FILE).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
    return directory


HUB_PREFIX = "hf://"


def resolve_checkpoint(name: str | Path) -> Path:
    """A local checkpoint directory, or "hf://USER/REPO": a Hugging Face model repo whose two
    checkpoint files are downloaded (online only). Only the explicit prefix reaches the network,
    so a mistyped local path fails locally instead of becoming a download."""
    text = str(name)
    if not text.startswith(HUB_PREFIX):
        return Path(name)
    repo = text[len(HUB_PREFIX):]
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo, allow_patterns=[CONFIG_FILE, WEIGHTS_FILE]))
    except Exception as error:  # offline, unknown repo, no access: one clear message
        raise CheckpointError(f"{text}: fetching the Hugging Face repo '{repo}' failed "
                              f"({type(error).__name__}: {error})") from error


def read_checkpoint_info(directory: str | Path) -> dict:
    """The parsed JSON of a checkpoint directory (config and whatever training stored)."""
    directory = Path(directory)
    path = directory / CONFIG_FILE
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: checkpoint directory does not exist")
    if not path.exists():
        raise CheckpointError(f"{path}: missing (a checkpoint is a directory with {CONFIG_FILE} "
                              f"and {WEIGHTS_FILE})")
    if not path.is_file():  # a FIFO, a device, a link to one: never read it
        raise CheckpointError(f"{path}: not a regular file")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{path}: larger than {MAX_CONFIG_BYTES:,} bytes, not a tagger config")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: not valid JSON ({error})") from error
    except RecursionError as error:
        raise CheckpointError(f"{path}: not valid JSON (nested too deeply)") from error
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict):
        raise CheckpointError(f"{path}: expected an object with a 'config' object")
    if info.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: format_version {info.get('format_version')!r} is not "
                              f"{FORMAT_VERSION}, the only one this version reads")
    return info


def checkpoint_hash(directory: str | Path, files: tuple[str, ...] = (CONFIG_FILE, WEIGHTS_FILE)) -> str:
    """sha256 over a saved model's config and weights files (a tagger's by default, a probe set's
    too): what a run record cites as 'what was evaluated'."""
    digest = hashlib.sha256()
    for name in files:
        digest.update((Path(directory) / name).read_bytes())
    return digest.hexdigest()


def verify_fingerprint(directory: Path, info: dict, trust_unverified: bool = False) -> bool:
    """True when the checkpoint's fingerprint matches its config and weights; a mismatch is
    refused. A checkpoint with none (saved before fingerprints) loads only when
    `trust_unverified` (the app's --trust-unverified), and then False says it is unverified."""
    stored = info.get("fingerprint")
    if stored is None:
        if trust_unverified:
            return False
        raise CheckpointError(f"{directory / CONFIG_FILE}: no fingerprint, so nothing shows that its "
                              "labels, fusion layer and weights belong together (saved by an older "
                              "version?); load it with --trust-unverified if you trust its source")
    if stored != checkpoint_fingerprint(info["config"], file_sha256(directory / WEIGHTS_FILE)):
        raise CheckpointError(f"{directory / CONFIG_FILE}: its fingerprint does not match its config "
                              f"and {WEIGHTS_FILE}: the config (labels, fusion layer, ...) or the "
                              "weights were changed after it was saved")
    return True


def read_config(info: dict, config_path: Path) -> TaggerConfig | PairConfig:
    """The checkpoint's config as its own type: the config says which kind of model it is, a
    tagger or a pair classifier (PairConfig)."""
    config_class = PairConfig if is_pair_config(info["config"]) else TaggerConfig
    try:
        return config_class.from_dict(info["config"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{config_path}: bad config: {error}") from error


def check_label_fingerprint(info: dict, config, classifier_weight: torch.Tensor, config_path: Path) -> None:
    """Refuse a label list that no longer matches the classifier rows it was saved with."""
    stored = info.get("label_fingerprint")
    if stored is not None and stored != label_fingerprint(config.labels, classifier_weight):
        raise CheckpointError(f"{config_path}: the label list does not match the classifier it was "
                              "trained with (label_fingerprint differs): labels reordered or edited?")


def load_tagger(directory: str | Path, merge: bool = True, expected_labels=None,
                trust_unverified: bool = False) -> TokenTagger:
    """Rebuild a tagger (or a pair classifier, when its config is one: `load_pair_classifier`)
    from a checkpoint directory (or a Hub repo id, online), in eval mode.

    `merge` folds LoRA adapters into private weights for faster inference (pass False to keep
    training). `expected_labels`, when given, must equal the checkpoint's label list. The
    checkpoint must prove what it is (`verify_fingerprint`); `tagger.verified` says whether it did.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from fusion.model.encoders import EncoderError

    directory = resolve_checkpoint(directory)
    info = read_checkpoint_info(directory)
    config_path = directory / CONFIG_FILE
    config = read_config(info, config_path)
    model_class = PairClassifier if isinstance(config, PairConfig) else TokenTagger
    if expected_labels is not None and list(expected_labels) != config.labels:
        raise CheckpointError(f"{config_path}: label mismatch: checkpoint has {config.labels}, "
                              f"expected {list(expected_labels)}")
    weights_path = directory / WEIGHTS_FILE
    if not weights_path.is_file():
        raise CheckpointError(f"{weights_path}: missing or not a regular file")
    if weights_path.stat().st_size > MAX_WEIGHTS_BYTES:
        raise CheckpointError(f"{weights_path}: larger than {MAX_WEIGHTS_BYTES:,} bytes")
    try:
        weights = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{weights_path}: not a readable safetensors file ({error})") from error
    for name, tensor in weights.items():
        if tensor.dtype != torch.float32:
            raise CheckpointError(f"{weights_path}: tensor '{name}' is {str(tensor.dtype).removeprefix('torch.')}; "
                                  "a tagger checkpoint holds float32 weights")
        if not torch.isfinite(tensor).all():
            raise CheckpointError(f"{weights_path}: tensor '{name}' holds NaN or infinite values")
    try:
        tagger = model_class(config)
    except EncoderError as error:
        raise CheckpointError(f"{config_path}: unknown or unavailable encoder "
                              f"'{config.encoder}': {error}") from error
    except ValueError as error:
        raise CheckpointError(f"{config_path}: {error}") from error

    expected = changed_state(tagger)
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{weights_path}: does not match {CONFIG_FILE} (missing {missing[:4]}"
            f"{'...' if len(missing) > 4 else ''}, unexpected {unexpected[:4]}"
            f"{'...' if len(unexpected) > 4 else ''})")
    for name, tensor in weights.items():
        if tensor.shape != expected[name].shape:
            raise CheckpointError(f"{weights_path}: tensor '{name}' has shape {tuple(tensor.shape)}, "
                                  f"the config implies {tuple(expected[name].shape)}")
    # the config (bounded: building it allocates nothing unreasonable) and the weights fit each
    # other; now they must also be the ones that were saved together
    verified = verify_fingerprint(directory, info, trust_unverified)
    # assign=True replaces parameters instead of copying into them (shared base tensors stay
    # intact) and keeps each parameter's requires_grad as TokenTagger set it.
    tagger.load_state_dict(weights, strict=False, assign=True)
    check_label_fingerprint(info, config, tagger.classifier.weight, config_path)
    tagger.eval()
    if merge:
        tagger.merge_adapters()
    tagger.checkpoint_info = info
    tagger.verified = verified
    return tagger


def load_pair_classifier(directory: str | Path, task: str | None = None, merge: bool = True,
                         trust_unverified: bool = False) -> PairClassifier:
    """`load_tagger` for a sentence-pair classifier (of `task`, when given); a tagger is refused."""
    classifier = load_tagger(directory, merge=merge, trust_unverified=trust_unverified)
    if not isinstance(classifier, PairClassifier):
        raise CheckpointError(f"{directory}: a {classifier.config.task} tagger, not a sentence-pair classifier")
    if task is not None and classifier.config.task != task:
        raise CheckpointError(f"{directory}: a {classifier.config.task} classifier, not {task}")
    return classifier
