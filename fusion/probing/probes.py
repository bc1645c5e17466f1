"""Per-layer linear probes: what each layer of the frozen encoder knows about entities.

For every hidden-state layer k = 0..L (0 = the embedding output) a linear classifier reads the
layer's features at each word's label position (the same alignment rule as the taggers,
fusion/data/alignment.py) and predicts the word's IOB2 tag. The encoder is frozen and has no
adapters, so the probes measure the encoder itself, not what fine-tuning taught it.

One encoder pass gives all L + 1 layers (`layer_features`); the L + 1 probes are one tensor of
weights (layers × d × labels) trained together on those features, each probe keeping its own best
epoch on English dev (`train_probes`). A probe set is a directory: ``probe_config.json`` +
``probes.safetensors`` (float32), read back with JSON and safetensors only.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fusion.evaluation.predictions import f1_from_counts, sentence_counts
from fusion.model.encoder_graph import GraphEncoder, every_layer
from fusion.model.encoders import OFFLINE_ENCODER
from fusion.model.modeling import PANX_LABELS, check_labels
from fusion.model.packing import PackedBatch

CONFIG_FILE = "probe_config.json"
WEIGHTS_FILE = "probes.safetensors"
PROBE_FILES = (CONFIG_FILE, WEIGHTS_FILE)  # what checkpoint_hash reads for a probe set
FORMAT_VERSION = 1
MAX_CONFIG_BYTES = 1_000_000
MAX_WEIGHTS_BYTES = 50_000_000  # 13 × 384 × 7 float32 weights are ~140 kB


class ProbeError(ValueError):
    """A probe set that cannot be loaded; the message names the file and the problem."""


@dataclass
class ProbeConfig:
    """What a probe set reads and predicts; saved as JSON next to its weights."""

    encoder: str = OFFLINE_ENCODER
    labels: list[str] = field(default_factory=lambda: list(PANX_LABELS))
    n_layers: int = 13  # hidden-state layers probed: 0 (embeddings) .. L
    hidden: int = 384

    def __post_init__(self) -> None:
        if not isinstance(self.encoder, str):
            raise ValueError(f"encoder must be a string, got {self.encoder!r}")
        for name in ("n_layers", "hidden"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number ≥ 1, got {value!r}")
        if not isinstance(self.labels, list) or not all(isinstance(v, str) for v in self.labels):
            raise ValueError(f"labels must be a list of strings, got {self.labels!r}")
        check_labels(self.labels)

    @classmethod
    def from_dict(cls, data: dict) -> "ProbeConfig":
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown config keys {unknown}")
        return cls(**data)


class LayerProbes(nn.Module):
    """L + 1 linear classifiers, one per layer, held as one weight tensor.

    Each layer's features are first standardised with the English training words' mean and
    spread per channel (`mean`, `std`): layers differ in scale (a few channels of the upper
    layers are large), and without it one learning rate cannot suit every layer."""

    TENSORS = ("weight", "bias", "mean", "std")

    def __init__(self, config: ProbeConfig):
        super().__init__()
        self.config = config
        layers, hidden, labels = config.n_layers, config.hidden, len(config.labels)
        self.weight = nn.Parameter(torch.randn(layers, hidden, labels) * hidden ** -0.5)
        self.bias = nn.Parameter(torch.zeros(layers, labels))
        self.register_buffer("mean", torch.zeros(layers, hidden))
        self.register_buffer("std", torch.ones(layers, hidden))
        self.info: dict = {}  # the saved JSON (training settings) once loaded

    def standardise_on(self, features: torch.Tensor, chunk: int = 65536) -> None:
        """Set `mean` and `std` from words × layers × d features (in chunks: float16 input)."""
        total = torch.zeros_like(self.mean, dtype=torch.float64)
        squares = torch.zeros_like(total)
        for begin in range(0, len(features), chunk):
            part = features[begin:begin + chunk].double()
            total += part.sum(0)
            squares += (part ** 2).sum(0)
        n = max(len(features), 1)
        mean = total / n
        self.mean.copy_(mean.float())
        self.std.copy_((squares / n - mean ** 2).clamp(min=0).sqrt().clamp(min=1e-4).float())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features: ... × layers × d  ->  logits: ... × layers × labels."""
        standard = (features.float() - self.mean) / self.std
        return torch.einsum("...ld,ldc->...lc", standard, self.weight) + self.bias


# --------------------------------------------------------------------------------------------
# Features: one encoder pass, every layer
# --------------------------------------------------------------------------------------------

@dataclass
class WordFeatures:
    """Every layer's features at the label position of each word of some sentences."""

    features: torch.Tensor  # words × layers × d (float16: half the memory, ample precision)
    lengths: list[int]  # words per sentence, in order; the rows are the sentences' words in turn
    kept: torch.Tensor  # words (bool): False for a word the tokenizer dropped (zero features)

    def sentences(self, per_word: list) -> list[list]:
        """Cut a flat per-word list back into sentences."""
        return split_by_lengths(per_word, self.lengths)


def split_by_lengths(flat: list, lengths: list[int]) -> list[list]:
    """A flat list cut into consecutive pieces of the given lengths."""
    out, start = [], 0
    for n in lengths:
        out.append(flat[start:start + n])
        start += n
    return out


class CountingEncoder:
    """The encoder as `word_outputs` calls it: every layer stacked, and a count of the passes
    (the tests check that all layers come from one pass). The encoder is a torch module, or its
    graph on ONNX Runtime (fusion/model/encoder_graph.py: GraphEncoder, as the app serves it)."""

    def __init__(self, encoder, device: str | torch.device = "cpu"):
        self.encoder, self.device, self.calls = encoder, torch.device(device), 0

    def __call__(self, batch: PackedBatch) -> torch.Tensor:
        self.calls += 1
        if isinstance(self.encoder, GraphEncoder):
            return self.encoder.hidden_states(batch).half()
        batch = batch.to(self.device)
        word_embeddings = self.encoder.get_input_embeddings()(batch.input_ids)
        return every_layer(self.encoder, word_embeddings, batch.positions, batch.segments).half()


def layer_features(encoder: nn.Module | CountingEncoder, tokenizer, sentences: list[list[str]],
                   batch_size: int = 64, progress=None, encodings=None) -> WordFeatures:
    """All layers' features of every word, from one encoder pass per batch of windows."""
    from fusion.model.packing import window_tokens
    from fusion.tagging.predict import word_outputs

    counting = encoder if isinstance(encoder, CountingEncoder) else CountingEncoder(encoder)
    size = window_tokens(counting.encoder.config, tokenizer)
    outputs = word_outputs(tokenizer, sentences, counting, size, batch_size, progress=progress,
                           encodings=encodings)
    config = counting.encoder.config
    shape = (config.num_hidden_layers + 1, config.hidden_size)
    # a sentence without tokens (only words the tokenizer drops) keeps zero rows, marked not kept
    rows = [o[0] if o is not None else torch.zeros((len(words),) + shape, dtype=torch.float16)
            for words, o in zip(sentences, outputs)]
    kept = [k for words, o in zip(sentences, outputs) for k in (o[1] if o is not None else [False] * len(words))]
    features = torch.cat(rows) if rows else torch.zeros((0,) + shape, dtype=torch.float16)
    return WordFeatures(features, [len(s) for s in sentences], torch.tensor(kept, dtype=torch.bool))


# --------------------------------------------------------------------------------------------
# Prediction and scoring
# --------------------------------------------------------------------------------------------

def probe_tags(probes: LayerProbes, words: WordFeatures) -> tuple[np.ndarray, np.ndarray]:
    """(label index, probability), each words × layers; dropped words are "O" (index of "O")."""
    with torch.inference_mode():
        probabilities = probes(words.features).softmax(-1)
    scores, best = probabilities.max(-1)
    outside = probes.config.labels.index("O")
    best[~words.kept] = outside
    scores[~words.kept] = 1.0
    return best.numpy(), scores.numpy()


def layer_tag_strings(probes: LayerProbes, words: WordFeatures, best: np.ndarray | None = None
                      ) -> list[list[list[str]]]:
    """Per layer, per sentence, per word: the predicted tag."""
    best = probe_tags(probes, words)[0] if best is None else best
    labels = probes.config.labels
    return [words.sentences([labels[i] for i in best[:, layer]]) for layer in range(best.shape[1])]


def layer_f1(probes: LayerProbes, words: WordFeatures, gold: list[list[str]]) -> list[float]:
    """Strict entity F1 (fraction) of each layer's probe, as seqeval's strict IOB2 mode counts it."""
    types = list(dict.fromkeys(label[2:] for label in probes.config.labels if label != "O"))
    return [f1_from_counts(sentence_counts(gold, predicted, types))
            for predicted in layer_tag_strings(probes, words)]


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------

@dataclass
class ProbeTraining:
    """How the probes were trained (stored in the probe set's JSON)."""

    seed: int = 13
    epochs: int = 8
    learning_rate: float = 2e-3
    batch_size: int = 256  # words per step
    weight_decay: float = 0.0


def train_probes(config: ProbeConfig, train: WordFeatures, train_tags: list[list[str]],
                 dev: WordFeatures, dev_tags: list[list[str]], settings: ProbeTraining,
                 log=print) -> tuple[LayerProbes, dict]:
    """Train every layer's probe on the same words; each keeps its weights from the epoch with its
    best English dev F1. Returns the probes and the training record (history, best epochs)."""
    started = time.time()
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    probes = LayerProbes(config)
    probes.standardise_on(train.features[train.kept])
    label2id = {label: i for i, label in enumerate(config.labels)}
    targets = torch.tensor([label2id[t] for sentence in train_tags for t in sentence])
    usable = train.kept.nonzero().squeeze(1)  # a dropped word has no features to learn from
    optimizer = torch.optim.AdamW(probes.parameters(), lr=settings.learning_rate,
                                  weight_decay=settings.weight_decay)
    best_f1 = [-1.0] * config.n_layers
    best_epoch = [0] * config.n_layers
    best_weight, best_bias = probes.weight.detach().clone(), probes.bias.detach().clone()
    history = []
    for epoch in range(1, settings.epochs + 1):
        order = usable[torch.randperm(len(usable), generator=generator)]
        total, steps = 0.0, 0
        for begin in range(0, len(order), settings.batch_size):
            index = order[begin:begin + settings.batch_size]
            logits = probes(train.features[index])  # B × layers × labels
            gold = targets[index].unsqueeze(1).expand(-1, config.n_layers)
            # a sum over layers: each probe has its own weights, so this trains them independently
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), gold.reshape(-1),
                                               reduction="sum") / len(index)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, steps = total + loss.item() / config.n_layers, steps + 1
        scores = layer_f1(probes, dev, dev_tags)
        history.append({"epoch": epoch, "train_loss": total / max(steps, 1), "dev_f1": scores})
        with torch.no_grad():
            for layer, score in enumerate(scores):
                if score > best_f1[layer]:
                    best_f1[layer], best_epoch[layer] = score, epoch
                    best_weight[layer], best_bias[layer] = probes.weight[layer], probes.bias[layer]
        log(f"epoch {epoch}: dev F1 by layer " + " ".join(f"{100 * s:.1f}" for s in scores))
    with torch.no_grad():
        probes.weight.copy_(best_weight)
        probes.bias.copy_(best_bias)
    record = {**asdict(settings), "train_sentences": len(train.lengths), "train_words": int(len(usable)),
              "dev_sentences": len(dev.lengths), "best_epoch": best_epoch, "dev_f1": best_f1,
              "history": history, "train_seconds": round(time.time() - started, 1)}
    probes.info = {"training": record}
    return probes, record


# --------------------------------------------------------------------------------------------
# Saving and loading
# --------------------------------------------------------------------------------------------

def save_probes(probes: LayerProbes, directory: str | Path, extra: dict | None = None) -> Path:
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file({name: getattr(probes, name).detach().float().contiguous() for name in LayerProbes.TENSORS},
              str(directory / WEIGHTS_FILE), metadata={"format": "pt"})
    payload = {"format_version": FORMAT_VERSION, "config": asdict(probes.config),
               **probes.info, **(extra or {})}
    (directory / CONFIG_FILE).write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
    return directory


def load_probes(directory: str | Path) -> LayerProbes:
    """A probe set from its directory; any problem is one ProbeError naming the file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    for path, limit in ((config_path, MAX_CONFIG_BYTES), (weights_path, MAX_WEIGHTS_BYTES)):
        if not path.is_file():
            raise ProbeError(f"{path}: missing or not a regular file")
        if path.stat().st_size > limit:
            raise ProbeError(f"{path}: larger than {limit:,} bytes")
    try:
        info = json.loads(config_path.read_text(encoding="utf-8"))
        if not isinstance(info, dict) or info.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"not a version-{FORMAT_VERSION} probe config")
        config = ProbeConfig.from_dict(info["config"])
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, RecursionError) as error:
        raise ProbeError(f"{config_path}: {error}") from error
    try:
        weights = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as error:
        raise ProbeError(f"{weights_path}: not a readable safetensors file ({error})") from error
    layers, hidden = config.n_layers, config.hidden
    expected = {"weight": (layers, hidden, len(config.labels)), "bias": (layers, len(config.labels)),
                "mean": (layers, hidden), "std": (layers, hidden)}
    if set(weights) != set(expected):
        raise ProbeError(f"{weights_path}: expected tensors {sorted(expected)}, found {sorted(weights)}")
    for name, shape in expected.items():
        tensor = weights[name]
        if tensor.dtype != torch.float32 or tuple(tensor.shape) != shape:
            raise ProbeError(f"{weights_path}: '{name}' is {tensor.dtype} {tuple(tensor.shape)}, "
                             f"the config implies float32 {shape}")
        if not torch.isfinite(tensor).all():
            raise ProbeError(f"{weights_path}: '{name}' holds NaN or infinite values")
    probes = LayerProbes(config)
    if not (weights["std"] > 0).all():
        raise ProbeError(f"{weights_path}: 'std' must be positive")
    probes.load_state_dict(weights)
    probes.info = {key: value for key, value in info.items() if key not in ("format_version", "config")}
    return probes.eval()
