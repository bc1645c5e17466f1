"""A prediction-only tagger made from a checkpoint's cached ONNX graph, without a torch encoder:
what a start of the app with a warm cache serves its first Compares from (issue 28).

The torch taggers' path imports transformers' modelling code and peft and builds both encoders
before a page can answer (~10 s more than the graphs, bench/graph_first.py). A `GraphTagger`
holds only the checkpoint's config (verified as `load_tagger` verifies it: the fingerprint, the
label list against its classifier), the encoder's tokenizer, its word-embedding table (a mapped
file: the graph starts after the lookup, fusion/model/onnx_runtime.py) and the graph's session.
It offers what prediction asks of a tagger (fusion/tagging/predict.py): `config`, `tokenizer`,
`runtime`, `embed_words`, `packed_logits`, `window_tokens`, `device`. Nothing here checks the
graph against torch: the app does that once it serves (serve/slots.py `check_graph_slots`), as
it checks every graph, and falls back to the torch tagger when the graph fails.
"""

from __future__ import annotations

import functools
from pathlib import Path
from types import SimpleNamespace

import torch

from fusion.model.checkpoint import (CONFIG_FILE, WEIGHTS_FILE, CheckpointError, check_label_fingerprint,
                                     read_checkpoint_info, read_config, verify_fingerprint)
from fusion.model.encoders import OFFLINE_ENCODER
from fusion.model.modeling import TaggerConfig, entity_types
from fusion.model.packing import PackedBatch, window_tokens
from fusion.model.pairs import PairConfig

WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"


class GraphTagger:
    """A checkpoint's tagger as its graph runs it: the same logits, attentions and gates as the
    torch tagger with that graph attached, for prediction only."""

    def __init__(self, config: TaggerConfig, tokenizer, word_embeddings: torch.Tensor, runtime,
                 window: int, checkpoint_info: dict | None = None, verified: bool = True):
        self.config, self.tokenizer, self.runtime = config, tokenizer, runtime
        self.word_embeddings = word_embeddings  # vocabulary × d, mapped from its file
        self.window_tokens = window
        self.checkpoint_info = checkpoint_info or {}
        self.verified = verified
        attentions = [output for output in runtime.session.get_outputs() if output.name.startswith("attention_")]
        self.n_layers = len(attentions)
        self.n_heads = attentions[0].shape[1] if attentions else 0  # rows × heads × tokens × tokens

    device = torch.device("cpu")

    @property
    def entity_types(self) -> list[str]:
        return entity_types(self.config.labels)

    def embed_words(self, input_ids: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.embedding(input_ids, self.word_embeddings)

    def packed_logits(self, batch: PackedBatch) -> torch.Tensor:
        return self.runtime(self.embed_words(batch.input_ids), batch.positions, batch.segments)


def load_graph_tagger(directory: str | Path, graph: Path, threads: int = 1, trust_unverified: bool = False,
                      cache=None) -> GraphTagger:
    """The tagger of the checkpoint in `directory` on `graph` (the file of its exported graph). The
    checkpoint proves what it is as `load_tagger` asks (CheckpointError otherwise); its encoder
    is the offline one (whose tokenizer and fp32 weights the cache folder holds: `cache`, a
    DiskCache) or any other (read as a torch tagger reads it). Taggers only: a pair classifier is refused."""
    from safetensors import safe_open

    from fusion.model.disk_cache import DiskCache
    from fusion.model.onnx_runtime import onnx_forward

    directory = Path(directory)
    info = read_checkpoint_info(directory)
    config = read_config(info, directory / CONFIG_FILE)
    if isinstance(config, PairConfig):
        raise CheckpointError(f"{directory}: a sentence-pair classifier, not a tagger")
    verified = verify_fingerprint(directory, info, trust_unverified)
    with safe_open(str(directory / WEIGHTS_FILE), "pt") as weights:
        check_label_fingerprint(info, config, weights.get_tensor("classifier.weight"), directory / CONFIG_FILE)
    # the cache folder matters to the offline encoder only: another encoder's parts are read once
    folder = str((cache if cache is not None else DiskCache()).folder) if config.encoder == OFFLINE_ENCODER else ""
    tokenizer, table, encoder_config = _encoder_parts(config.encoder, folder)
    return GraphTagger(config, tokenizer, table, onnx_forward(Path(graph), threads),
                       window_tokens(encoder_config, tokenizer), info, verified)


@functools.lru_cache(maxsize=2)  # both sides read the same encoder: one tokenizer, one table, one hash check
def _encoder_parts(name: str, cache_folder: str) -> tuple[object, torch.Tensor, object]:
    """(tokenizer, word-embedding table, config with max_position_embeddings / model_type) of an
    encoder. The offline encoder's come from the cache folder, made by an earlier start (a
    FileNotFoundError when they are not there yet), without building anything; another encoder's
    from its shared base (fusion/model/encoders.py `load_encoder_base`, as a torch tagger reads it)."""
    from safetensors import safe_open

    from fusion.model.encoders import load_encoder_base

    if name != OFFLINE_ENCODER:
        base = load_encoder_base(name)
        return base.tokenizer, base.state[WORD_EMBEDDINGS], base.config

    from fusion.model.disk_cache import DiskCache
    from fusion.model.encoders import MAX_OFFLINE_BYTES, offline_tokenizer, offline_weights_name

    cache = DiskCache(cache_folder)
    weights = cache.verified(offline_weights_name(), MAX_OFFLINE_BYTES)
    if weights is None:
        raise FileNotFoundError(f"the offline encoder's fp32 weights are not in {cache.folder} yet")
    tokenizer = offline_tokenizer(cache)
    with safe_open(str(weights), "pt") as tensors:
        table = tensors.get_tensor(WORD_EMBEDDINGS)
        positions = tensors.get_slice("embeddings.position_embeddings.weight").get_shape()[0]
    return tokenizer, table, SimpleNamespace(max_position_embeddings=positions, model_type="bert")
