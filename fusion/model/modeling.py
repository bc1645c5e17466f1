"""The tagger: an encoder, an optional AIF fusion module, a linear classifier.

Read with docs/METHOD.md, 'The method'. With H_L the last layer's hidden states and H_k those of layer k
(hidden_states[k]; k = 0 is the embedding output), S = H_L + H_k and

    Lo = W2 · act(Norm(W1 · S))                   local branch, per token
    Gl = W4 · act(Norm(W3 · masked_mean(S)))      global branch, per sentence
    M  = sigmoid(Lo + Gl)                         the gate, in (0, 1)^{B×T×d}
    Z  = M ⊙ H_L + (1 − M) ⊙ H_k                  fused features; the classifier reads dropout(Z)

No fusion layer gives the baseline: the classifier reads dropout(H_L).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields

import torch
from torch import nn

from fusion.model.encoders import OFFLINE_ENCODER, build_encoder
from fusion.model.packing import PackedBatch, encode_embedded, window_tokens

PANX_LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
TUNING_MODES = ("lora", "full", "frozen")
# The largest settings a config may ask for: far above any sensible one (rank 16, alpha 32,
# reduction 4, 12 layers), far below what would exhaust memory when the model is built.
CONFIG_LIMITS = {"reduction": 4096, "lora_rank": 1024, "lora_alpha": 65536}
MAX_LAYERS = 256
MAX_LABELS = 1000
TAGGING_TASKS = ("ner", "pos")  # what a tagger's labels are: IOB2 entities, or one tag per word
# sentence-pair tasks (fusion/model/pairs.py): one label per pair, in the datasets' own names
PAIR_TASKS = {"xnli": ("entailment", "neutral", "contradiction"), "pawsx": ("0", "1")}
IGNORE_INDEX = -100  # label of positions the loss and the predictions skip


_LABEL = re.compile(r"^(O|[BI]-[^\s-][^\s]*)$")


def _require_type(name: str, value, kind: type) -> None:
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        raise ValueError(f"{name} must be {kind.__name__}, got {type(value).__name__} {value!r}")


def check_labels(labels: list[str]) -> None:
    """An IOB2 label set: "O" plus B-X and I-X for every type X, each once."""
    bad = [label for label in labels if not _LABEL.match(label)]
    if bad:
        raise ValueError(f"labels must be 'O' or B-/I-<TYPE>, got {bad}")
    if len(set(labels)) != len(labels) or "O" not in labels:
        raise ValueError(f"labels must hold 'O' and no repeats, got {labels}")
    types = {label[2:] for label in labels if label != "O"}
    missing = sorted(f"{p}-{t}" for t in types for p in "BI" if f"{p}-{t}" not in labels)
    if missing:
        raise ValueError(f"labels lack {missing}: every type needs both B- and I-")


@dataclass
class TaggerConfig:
    """Everything needed to rebuild a tagger; saved as JSON next to its weights."""

    encoder: str = OFFLINE_ENCODER
    labels: list[str] = field(default_factory=lambda: list(PANX_LABELS))
    task: str = "ner"  # "ner": labels are IOB2; "pos": any tag set (UPOS), one tag per word
    fusion_layer: int | None = None  # None = baseline; k = fuse hidden_states[k] with the last layer
    reduction: int = 4  # AIF bottleneck d -> d / reduction
    dropout: float = 0.1
    tuning: str = "lora"  # lora: adapters on the encoder; full: every encoder weight; frozen: none
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    lora_targets: list[str] = field(default_factory=lambda: ["query", "key", "value", "dense"])
    freeze_word_embeddings: bool = True  # the 250k-row table: frozen keeps checkpoints small

    TASKS = TAGGING_TASKS  # what this kind of model may be trained for

    def __post_init__(self) -> None:
        """Check every field's type and range: a config read from a file may hold anything."""
        _require_type("encoder", self.encoder, str)
        _require_type("tuning", self.tuning, str)
        _require_type("task", self.task, str)
        if self.task not in self.TASKS:
            raise ValueError(f"task must be one of {tuple(self.TASKS)}, got {self.task!r}")
        if self.tuning not in TUNING_MODES:
            raise ValueError(f"tuning must be one of {TUNING_MODES}, got {self.tuning!r}")
        # Bounded before anything is allocated: a config read from a file could ask for a rank
        # of a million (gigabytes of adapters) and end the process instead of being refused.
        for name, most in CONFIG_LIMITS.items():
            _require_type(name, getattr(self, name), int)
            if not 1 <= getattr(self, name) <= most:
                raise ValueError(f"{name} must be between 1 and {most:,}, got {getattr(self, name)}")
        if self.fusion_layer is not None:
            _require_type("fusion_layer", self.fusion_layer, int)
            if not 0 <= self.fusion_layer <= MAX_LAYERS:
                raise ValueError(f"fusion_layer must be None or between 0 and {MAX_LAYERS}, got {self.fusion_layer}")
        if len(self.labels) > MAX_LABELS:
            raise ValueError(f"at most {MAX_LABELS} labels, got {len(self.labels)}")
        for name in ("dropout", "lora_dropout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
        _require_type("freeze_word_embeddings", self.freeze_word_embeddings, bool)
        for name in ("labels", "lora_targets"):
            value = getattr(self, name)
            if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{name} must be a non-empty list of strings, got {value!r}")
        if self.task == "ner":
            check_labels(self.labels)
        elif len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels must not repeat, got {self.labels}")

    @property
    def label2id(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}

    @property
    def model(self) -> str:
        """The model's name, as run records and the app write it: "baseline" or "fusion-l<k>"."""
        return "baseline" if self.fusion_layer is None else f"fusion-l{self.fusion_layer}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TaggerConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config keys {unknown}; known keys are {sorted(known)}")
        return cls(**data)


@dataclass
class TaggerOutput:
    """What `TokenTagger.forward` returns; the app reads only these fields."""

    logits: torch.Tensor  # B × T × n_labels
    loss: torch.Tensor | None = None  # mean cross-entropy over labelled positions
    gates: torch.Tensor | None = None  # B × T × d, the AIF gate M; None for the baseline
    attentions: tuple[torch.Tensor, ...] | None = None  # per layer: B × heads × T × T
    hidden_states: tuple[torch.Tensor, ...] | None = None  # L + 1 tensors of B × T × d


class AIF(nn.Module):
    """Attentional feature fusion of the last layer with one lower layer (equations above)."""

    def __init__(self, hidden: int, reduction: int = 4):
        super().__init__()
        inner = max(1, hidden // reduction)
        self.local_branch = nn.Sequential(  # W1, Norm, act, W2: the 1×1 convolutions, per token
            nn.Linear(hidden, inner), nn.LayerNorm(inner), nn.ReLU(), nn.Linear(inner, hidden))
        self.global_branch = nn.Sequential(  # W3, Norm, act, W4: on the sentence mean
            nn.Linear(hidden, inner), nn.LayerNorm(inner), nn.ReLU(), nn.Linear(inner, hidden))

    def forward(self, last: torch.Tensor, lower: torch.Tensor, mask: torch.Tensor,
                segments: torch.Tensor | None = None):
        """last, lower: B × T × d; mask: B × T (1 = real token). Returns (Z, M), both B × T × d.
        `segments` (B × T, -1 on padding) marks several sequences packed in one row
        (fusion/model/packing.py): each then has its own mean, as it would alone."""
        summed = last + lower  # S
        local = self.local_branch(summed)  # Lo
        if segments is None:
            weights = mask.unsqueeze(-1).to(summed.dtype)
            sentence = (summed * weights).sum(1) / weights.sum(1).clamp(min=1.0)  # masked mean of S
            global_ = self.global_branch(sentence).unsqueeze(1)  # Gl, broadcast over tokens
        else:
            # As many slots as tokens, a bound from the shape and not the data, so that an
            # exported graph (fusion/model/onnx_runtime.py) holds for every batch; empty slots add 0.
            slots = torch.arange(segments.shape[1], device=segments.device)
            members = (segments.unsqueeze(-1) == slots).to(summed.dtype)
            sentences = members.transpose(1, 2) @ summed / members.sum(1).unsqueeze(-1).clamp(min=1.0)
            global_ = members @ self.global_branch(sentences)  # each token gets its own sequence's Gl
        gate = torch.sigmoid(local + global_)  # M
        fused = gate * last + (1.0 - gate) * lower  # Z
        return fused, gate


def prepare_encoder(encoder: nn.Module, config: TaggerConfig) -> tuple[nn.Module, frozenset[str]]:
    """Freeze / copy / wrap encoder weights according to `config.tuning`; returns the encoder
    (wrapped with LoRA adapters when asked) and the names of its still-shared base weights.

    The encoder's parameters start as the process-wide shared base tensors; any weight that
    training may change gets a private copy (full) or stays frozen under an adapter (LoRA).
    The tagger and the intermediate-task model (fusion/training/intermediate.py) both call this, so their
    adapters have the same names and carry over from one to the other.
    """
    base_pointers = {t.data_ptr() for t in encoder.state_dict().values()}
    for parameter in encoder.parameters():
        parameter.requires_grad_(False)
    if config.tuning == "full":
        word_embeddings = encoder.get_input_embeddings().weight
        for module in encoder.modules():
            for name, parameter in list(module.named_parameters(recurse=False)):
                if parameter is word_embeddings and config.freeze_word_embeddings:
                    continue
                setattr(module, name, nn.Parameter(parameter.detach().clone()))
    elif config.tuning == "lora":
        from peft import LoraConfig, inject_adapter_in_model

        if config.lora_rank > encoder.config.hidden_size:  # no higher rank exists; refuse before allocating
            raise ValueError(f"lora_rank {config.lora_rank} exceeds the encoder's width {encoder.config.hidden_size}")

        lora = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha,
                          lora_dropout=config.lora_dropout,
                          target_modules=list(config.lora_targets), bias="none")
        encoder = inject_adapter_in_model(lora, encoder)
        for name, parameter in encoder.named_parameters():
            parameter.requires_grad_("lora_" in name)
    return encoder, frozenset(name for name, t in encoder.state_dict().items()
                              if t.data_ptr() in base_pointers)


def entity_types(labels: list[str]) -> list[str]:
    """PER, ORG, LOC... in the order of the label list."""
    return list(dict.fromkeys(label.split("-", 1)[1] for label in labels if "-" in label))


class TokenTagger(nn.Module):
    """Encoder (+ AIF when `config.fusion_layer` is set) + dropout + linear classifier."""

    def __init__(self, config: TaggerConfig, encoder: nn.Module | None = None, tokenizer=None):
        super().__init__()
        if encoder is None:
            encoder, tokenizer = build_encoder(config.encoder)
        self.config = config
        self.tokenizer = tokenizer
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        n_layers = encoder.config.num_hidden_layers
        if config.fusion_layer is not None and config.fusion_layer >= n_layers:
            raise ValueError(
                f"fusion_layer {config.fusion_layer} is out of range: this encoder has {n_layers} "
                f"layers, so the lower layer must be 0..{n_layers - 1} (0 = embeddings)")
        self.fusion = None if config.fusion_layer is None else AIF(hidden, config.reduction)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(hidden, len(config.labels))
        self.merged = False  # True once merge_adapters() folded LoRA in (inference only)
        self.quantized = False  # True once fusion.model.quantize gave it an int8 encoder (inference only)
        # An ONNX Runtime copy of logits_from_embeddings, once fusion/model/onnx_runtime.py attached one
        # (inference only: it holds the weights as they were then).
        self.runtime = None
        self.checkpoint_info: dict = {}  # the checkpoint's JSON (training settings) once loaded
        self.verified = True  # False: loaded from an old checkpoint without a fingerprint, on trust
        self.encoder, base_names = prepare_encoder(self.encoder, config)
        # Names, not addresses: they stay right after the model moves to another device.
        self.base_names = frozenset(f"encoder.{name}" for name in base_names)

    @property
    def n_layers(self) -> int:
        return self.encoder.config.num_hidden_layers

    @property
    def n_heads(self) -> int:
        return self.encoder.config.num_attention_heads

    @property
    def entity_types(self) -> list[str]:
        return entity_types(self.config.labels)

    @property
    def window_tokens(self) -> int:
        """Content tokens per window (fusion/model/packing.py `window_tokens`)."""
        return window_tokens(self.encoder.config, self.tokenizer)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def embed_words(self, input_ids: torch.Tensor) -> torch.Tensor:
        """The word embeddings of token ids: what `logits_from_embeddings` (and an exported graph) reads."""
        return self.encoder.get_input_embeddings()(input_ids)

    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 output_attentions: bool = False, output_hidden_states: bool = False):
        """(B × T × d features the classifier reads, the gates or None, the encoder's output): the
        last layer for the baseline, the AIF-fused sequence for the fusion model."""
        need_layers = output_hidden_states or self.fusion is not None
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                           output_hidden_states=need_layers, output_attentions=output_attentions,
                           return_dict=True)
        features, gates = out.last_hidden_state, None
        if self.fusion is not None:
            lower = out.hidden_states[self.config.fusion_layer]
            features, gates = self.fusion(features, lower, attention_mask)
        return features, gates, out

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                labels: torch.Tensor | None = None, output_attentions: bool = False,
                output_hidden_states: bool = False) -> TaggerOutput:
        """input_ids, attention_mask: B × T; labels: B × T with IGNORE_INDEX where unlabelled."""
        features, gates, out = self.features(input_ids, attention_mask, output_attentions,
                                             output_hidden_states)
        logits = self.classifier(self.dropout(features))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE_INDEX)
        return TaggerOutput(
            logits=logits, loss=loss, gates=gates,
            attentions=out.attentions if output_attentions else None,
            hidden_states=out.hidden_states if output_hidden_states else None)

    def packed_logits(self, batch: PackedBatch) -> torch.Tensor:
        """rows × T × n_labels for a packed batch (fusion/model/packing.py): the logits each sequence
        gets alone, for prediction; through the ONNX Runtime copy once one is attached."""
        word_embeddings = self.embed_words(batch.input_ids)
        if self.runtime is not None:
            return self.runtime(word_embeddings, batch.positions, batch.segments)
        return self.logits_from_embeddings(word_embeddings, batch.positions, batch.segments)

    def logits_from_embeddings(self, word_embeddings: torch.Tensor, positions: torch.Tensor,
                               segments: torch.Tensor) -> torch.Tensor:
        """`packed_logits` from the rows' word embeddings on (what fusion/model/onnx_runtime.py exports)."""
        return self.classifier(self.dropout(self.packed_features(word_embeddings, positions, segments)))

    def packed_features(self, word_embeddings: torch.Tensor, positions: torch.Tensor,
                        segments: torch.Tensor) -> torch.Tensor:
        """rows × T × d features of a packed batch: the last layer, or the AIF-fused sequence."""
        out = encode_embedded(self.encoder, word_embeddings, positions, segments,
                              output_hidden_states=self.fusion is not None)
        features = out.last_hidden_state
        if self.fusion is not None:
            features, _ = self.fusion(features, out.hidden_states[self.config.fusion_layer],
                                      (segments >= 0).long(), segments)
        return features

    def merge_adapters(self) -> None:
        """For inference: fold each LoRA adapter into a private copy of its dense layer.

        Speeds up forward passes; never writes into the shared base weights (peft's own
        merge_and_unload would, in place). Training after this is not supported.
        """
        try:
            from peft.tuners.lora import Linear as LoraLinear
        except ImportError:  # peft not installed: nothing can be wrapped
            return
        for name, module in list(self.encoder.named_modules()):
            if not isinstance(module, LoraLinear):
                continue
            base = module.get_base_layer()
            with torch.device("meta"):  # no random init: every tensor is assigned below
                merged = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None)
            with torch.no_grad():
                delta = sum(module.get_delta_weight(a) for a in module.active_adapters)
                merged.weight = nn.Parameter(base.weight + delta, requires_grad=False)
                if base.bias is not None:
                    merged.bias = base.bias
            parent_name, _, child = name.rpartition(".")
            setattr(self.encoder.get_submodule(parent_name) if parent_name else self.encoder,
                    child, merged)
        self.merged = True
