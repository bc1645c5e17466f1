"""The frozen encoder's every layer as an ONNX graph: what the Layers tab's probes read
(fusion/probing/probes.py `layer_features`), on the runtime Compare and Inside run on.

The probes read the encoder without any tagger's adapters, which no tagger's graph holds, so the
encoder gets a graph of its own: from the word embeddings of a packed batch on (the lookup stays
in torch, as for the taggers' graphs, fusion/model/onnx_runtime.py) to every layer's hidden
states, stacked (rows × tokens × layers + 1 × d). A server keeps it in the graph cache under a key
made of the encoder's weights and the libraries (`encoder_graph_key`), traces it in a child
process when it is not there, and checks it against the torch encoder before using it
(`check_encoder_graph`); the torch encoder then goes.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

from fusion.model.onnx_runtime import (FREE_AXES, INPUTS, graphs_from_child, onnx_forward, random_batch,
                                      write_graphs_of)
from fusion.model.packing import PackedBatch, encode_embedded

FORMAT = "lfe-encoder-graph-1"
OPSET = 17
OUTPUT = "hidden_states"
CHECK_TOLERANCE = 1e-3  # relative to the largest feature: float rounding over 12 layers


def every_layer(encoder: nn.Module, word_embeddings: torch.Tensor, positions: torch.Tensor,
                segments: torch.Tensor) -> torch.Tensor:
    """The torch encoder's hidden states of a packed batch, every layer, stacked on a third axis
    (rows × tokens × layers + 1 × d): what the graph computes."""
    out = encode_embedded(encoder, word_embeddings, positions, segments, output_hidden_states=True)
    return torch.stack(out.hidden_states, dim=2)


class _EveryLayer(nn.Module):
    """What the exporter traces: `every_layer` of the encoder."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, word_embeddings, positions, segments):
        return every_layer(self.encoder, word_embeddings, positions, segments)


def export_encoder_graph(encoder: nn.Module) -> bytes:
    """The serialised graph of the encoder's layers (rows and tokens free), traced on a small
    packed batch of two sequences."""
    sample = random_batch(encoder, (5, 3))
    with torch.inference_mode():
        word_embeddings = encoder.get_input_embeddings()(sample.input_ids)
    graph = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript-based exporter warns that it is deprecated
        warnings.simplefilter("ignore")
        torch.onnx.export(_EveryLayer(encoder).eval(), (word_embeddings, sample.positions, sample.segments), graph,
                          dynamo=False, input_names=list(INPUTS), output_names=[OUTPUT],
                          dynamic_axes={name: FREE_AXES for name in (*INPUTS, OUTPUT)}, opset_version=OPSET)
    return graph.getvalue()


def encoder_graphs_in_child(names: list[str], timeout: float = 600) -> list[bytes]:
    """`export_encoder_graph` of each named encoder, traced in a child process (the caller's
    threads never wait for the GIL meanwhile); check each against the caller's own encoder."""
    return graphs_from_child("fusion.model.encoder_graph", names, timeout)


def encoder_graph_key(name: str, encoder: nn.Module) -> str:
    """What a graph of this encoder depends on, as one sha256: its weights (all but the word
    embeddings, which stay outside the graph), the exporter's and the runtime's versions, and this
    file's format."""
    import onnxruntime

    digest = hashlib.sha256()
    table = encoder.get_input_embeddings().weight
    for tensor_name, tensor in sorted(encoder.state_dict().items()):
        if tensor.data_ptr() == table.data_ptr():
            continue
        digest.update(f"{tensor_name}:{tensor.dtype}:{tuple(tensor.shape)}".encode("utf-8"))
        digest.update(tensor.detach().contiguous().view(torch.uint8).numpy())
    parts = {"format": FORMAT, "encoder": name, "weights": digest.hexdigest(), "torch": torch.__version__,
             "opset": OPSET, "onnxruntime": onnxruntime.__version__}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()


class GraphEncoder:
    """The encoder as the probes read it, on ONNX Runtime: `config` (the torch encoder's, for
    the window size and the layer count) and `hidden_states(batch)`, every layer of a packed
    batch as one tensor (rows × tokens × layers + 1 × d). It holds the word-embedding table it
    was given (the encoder's shared one: no copy) and the graph's session, no torch layer."""

    def __init__(self, config, word_embeddings: torch.Tensor, graph: bytes | str | Path, threads: int = 1):
        self.config, self.word_embeddings = config, word_embeddings
        self.runtime = onnx_forward(graph, threads)

    def hidden_states(self, batch: PackedBatch) -> torch.Tensor:
        word_embeddings = nn.functional.embedding(batch.input_ids, self.word_embeddings)
        return self.runtime.run([OUTPUT], word_embeddings, batch.positions, batch.segments)[0]

    @classmethod
    def of(cls, encoder: nn.Module, graph: bytes | str | Path, threads: int = 1) -> GraphEncoder:
        """The graph encoder standing in for `encoder` (its config and word-embedding table)."""
        return cls(encoder.config, encoder.get_input_embeddings().weight.detach(), graph, threads)


def checked_graph_encoder(encoder: nn.Module, graph: bytes | str | Path, threads: int = 1) -> GraphEncoder:
    """`GraphEncoder.of` the encoder on `graph`, once `check_encoder_graph` passes (ValueError otherwise)."""
    graph_encoder = GraphEncoder.of(encoder, graph, threads)
    check_encoder_graph(encoder, graph_encoder)
    return graph_encoder


def check_encoder_graph(encoder: nn.Module, graph_encoder: GraphEncoder) -> None:
    """Raise unless the graph gives the torch encoder's hidden states, every layer, on three
    rows with up to two sequences each (float rounding aside): a wrong graph is never used."""
    batch = random_batch(encoder, (9, 4, 3, 6, 2))
    with torch.inference_mode():
        expected = every_layer(encoder, encoder.get_input_embeddings()(batch.input_ids), batch.positions,
                               batch.segments)
    got = graph_encoder.hidden_states(batch)
    if got.shape != expected.shape:
        raise ValueError(f"the encoder graph's hidden states have shape {tuple(got.shape)}, "
                         f"torch's {tuple(expected.shape)}")
    real = batch.segments >= 0
    gap = (got[real] - expected[real]).abs().max().item()
    if not gap <= CHECK_TOLERANCE * max(1.0, expected[real].abs().max().item()):
        raise ValueError(f"the encoder graph's hidden states differ from torch's by {gap:.2g}")


if __name__ == "__main__":  # encoder_graphs_in_child's child: the graph of each named encoder, on stdout
    from fusion.model.encoders import build_encoder

    write_graphs_of(lambda name: export_encoder_graph(build_encoder(name)[0]), sys.argv[1:])
