"""The Layers probes' encoder on ONNX Runtime (fusion/model/encoder_graph.py, serve/probes.py): its
graph gives torch's hidden states at every layer, a wrong graph is refused, a warm cache exports
nothing, a stale or tampered graph is made again, a failure leaves Layers on torch, and the grid
read through the graph is torch's."""

import copy
import hashlib
import json

import pytest
import torch

from fusion.model import encoder_graph
from fusion.model.encoder_graph import (GraphEncoder, check_encoder_graph, encoder_graph_key,
                                        export_encoder_graph)
from fusion.model.encoders import build_encoder
from fusion.model.onnx_cache import GraphCache
from fusion.probing.emergence import emergence
from fusion.probing.probes import LayerProbes, ProbeConfig, save_probes
from serve.probes import LazyProbes, attach_encoder_graph, load_probe_slot

TEXT = "Angela Merkel visited Paris. The New York Times wrote about it in Berlin."
_graphs: dict[str, bytes] = {}  # encoder -> its graph, traced once for the module


@pytest.fixture
def exports(monkeypatch):
    """The child's export run in this process instead, counting the encoders asked for."""
    asked = []

    def in_process(names, timeout=600):
        asked.extend(names)
        for name in names:
            _graphs.setdefault(name, export_encoder_graph(build_encoder(name)[0]))
        return [_graphs[name] for name in names]

    monkeypatch.setattr(encoder_graph, "encoder_graphs_in_child", in_process)
    return asked


def perturbed(encoder):
    """A copy of the encoder whose second layer's attention output weights are changed (not by a
    constant: the layer norm after them would take that away)."""
    other = copy.deepcopy(encoder)
    with torch.no_grad():
        other.encoder.layer[1].attention.output.dense.weight.mul_(-2.0)
    return other


@pytest.fixture(scope="module")
def probes_dir(tiny_bert, tmp_path_factory):
    config = build_encoder(tiny_bert)[0].config
    torch.manual_seed(3)
    probes = LayerProbes(ProbeConfig(encoder=tiny_bert, n_layers=config.num_hidden_layers + 1,
                                     hidden=config.hidden_size))
    with torch.no_grad():
        probes.weight.normal_(0, 1.0)  # untrained probes at zero read "O" everywhere: make them read something
    return save_probes(probes, tmp_path_factory.mktemp("probes"))


@pytest.mark.parametrize("encoder_name", ["tiny_bert", "tiny_xlmr"])  # XLM-R: positions after the pad index
def test_the_graph_gives_every_layer_as_torch_does_and_refuses_another_encoder(encoder_name, request):
    encoder, _ = build_encoder(request.getfixturevalue(encoder_name))
    graph = GraphEncoder.of(encoder, export_encoder_graph(encoder))
    check_encoder_graph(encoder, graph)  # every layer, packed rows of several sequences
    assert graph.word_embeddings.data_ptr() == encoder.get_input_embeddings().weight.data_ptr()  # no copy
    with pytest.raises(ValueError, match="differ from torch's"):
        check_encoder_graph(encoder, GraphEncoder.of(encoder, export_encoder_graph(perturbed(encoder))))


def test_the_key_follows_the_weights_and_not_the_word_embeddings(tiny_bert):
    encoder, _ = build_encoder(tiny_bert)
    key = encoder_graph_key(tiny_bert, encoder)
    assert key == encoder_graph_key(tiny_bert, build_encoder(tiny_bert)[0])
    assert key != encoder_graph_key(tiny_bert, perturbed(encoder))
    assert key != encoder_graph_key("another-name", encoder)
    other = copy.deepcopy(encoder)
    with torch.no_grad():
        other.get_input_embeddings().weight.add_(1.0)  # outside the graph: the same graph serves
    assert key == encoder_graph_key(tiny_bert, other)


def test_layers_moves_to_its_graph_once_and_a_warm_cache_exports_nothing(probes_dir, tmp_path, exports):
    cache = GraphCache(tmp_path / "cache")
    slot = load_probe_slot(probes_dir)
    torch_encoder = slot.encoder
    on_torch = emergence(slot.probes, torch_encoder, slot.tokenizer, TEXT, 1)
    attach_encoder_graph(slot, cache).join(timeout=120)
    assert isinstance(slot.encoder, GraphEncoder) and slot.runtime == "ONNX Runtime"
    assert exports == [slot.probes.config.encoder] and len(list((tmp_path / "cache").glob("*.onnx"))) == 1
    on_graph = emergence(slot.probes, slot.encoder, slot.tokenizer, TEXT, 1)
    assert on_graph.tags == on_torch.tags and {t for row in on_torch.tags for t in row} != {"O"}
    assert abs(on_graph.scores - on_torch.scores).max() < 1e-3
    exports.clear()  # a second start, the same probes: the stored graph, checked, no export
    again = load_probe_slot(probes_dir)
    attach_encoder_graph(again, cache).join(timeout=120)
    assert exports == [] and isinstance(again.encoder, GraphEncoder)


def test_a_stale_or_tampered_graph_is_made_again_and_a_failure_stays_on_torch(probes_dir, tmp_path, exports,
                                                                              monkeypatch):
    cache = GraphCache(tmp_path / "cache")
    slot = load_probe_slot(probes_dir)
    key = encoder_graph_key(slot.probes.config.encoder, slot.encoder)
    wrong = export_encoder_graph(perturbed(slot.encoder))  # stored under the key with a matching sha256
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / f"{key}.onnx").write_bytes(wrong)
    (tmp_path / "cache" / f"{key}.onnx.sha256.json").write_text(json.dumps({"sha256": hashlib.sha256(wrong).hexdigest()}))
    attach_encoder_graph(slot, cache).join(timeout=120)
    assert exports == [slot.probes.config.encoder] and isinstance(slot.encoder, GraphEncoder)
    assert cache.read(key) != wrong

    def broken(names, timeout=600):
        raise RuntimeError("the export in a child process failed: out of memory")

    monkeypatch.setattr(encoder_graph, "encoder_graphs_in_child", broken)
    failed = load_probe_slot(probes_dir)
    torch_encoder = failed.encoder
    attach_encoder_graph(failed, GraphCache(tmp_path / "empty")).join(timeout=120)
    assert failed.encoder is torch_encoder and "out of memory" in failed.runtime
    assert emergence(failed.probes, failed.encoder, failed.tokenizer, TEXT).tags  # Layers still answers


def test_the_lazy_slot_attaches_once_when_first_asked(probes_dir):
    attached = []
    lazy = LazyProbes(probes_dir, attach=attached.append)
    assert attached == []  # nothing at start
    slot = lazy.get()
    assert lazy.get() is slot and attached == [slot]
    missing = LazyProbes(probes_dir.parent / "missing", attach=attached.append)
    assert not missing.get().ready and attached == [slot]  # nothing to attach


def test_the_app_gives_layers_its_graph_unless_told_torch(models, tmp_path):
    from serve.services import Services
    from serve.settings import Settings

    def probes_of(settings):
        return Services.create(models, runs_dir=tmp_path, examples=[], settings=settings, warm_up_now=False).probes

    assert probes_of(Settings()).attach is not None  # as shipped: ONNX Runtime
    assert probes_of(Settings(runtime="torch")).attach is None
