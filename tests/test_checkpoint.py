import json
import shutil
from pathlib import Path

import pytest
import torch

from fusion.model.checkpoint import (CONFIG_FILE, WEIGHTS_FILE, CheckpointError, checkpoint_hash, load_tagger,
                                     save_tagger)

REPO = Path(__file__).resolve().parents[1]


def _logits(tagger, texts=("Angela Merkel visited Paris .", "東京 と 北京")):
    enc = tagger.tokenizer(list(texts), padding=True, return_tensors="pt")
    with torch.no_grad():
        return tagger(enc["input_ids"], enc["attention_mask"]).logits


@pytest.mark.parametrize("tuning", ["lora", "full", "frozen"])
@pytest.mark.parametrize("fusion_layer", [None, 1])
def test_save_load_round_trip_gives_identical_logits(tmp_path, tiny_bert, make_tagger, tuning, fusion_layer):
    tagger = make_tagger(tiny_bert, fusion_layer=fusion_layer, tuning=tuning)
    save_tagger(tagger, tmp_path / "ck", extra={"training": {"seed": 3}})
    loaded = load_tagger(tmp_path / "ck", merge=False)
    torch.testing.assert_close(_logits(loaded), _logits(tagger), rtol=0, atol=0)
    assert loaded.checkpoint_info["training"] == {"seed": 3}


def test_merged_adapters_give_the_same_logits_and_leave_the_shared_base_alone(tmp_path, tiny_bert, make_tagger):
    from fusion.model.encoders import load_encoder_base

    tagger = make_tagger(tiny_bert, fusion_layer=1)
    save_tagger(tagger, tmp_path / "ck")
    base_before = {k: v.clone() for k, v in load_encoder_base(tiny_bert).state.items()}
    merged = load_tagger(tmp_path / "ck", merge=True)
    torch.testing.assert_close(_logits(merged), _logits(tagger), rtol=1e-5, atol=1e-5)
    for name, tensor in load_encoder_base(tiny_bert).state.items():
        assert torch.equal(tensor, base_before[name]), name
    with pytest.raises(CheckpointError, match="merged"):
        save_tagger(merged, tmp_path / "again")


def test_a_lora_checkpoint_stores_only_what_training_changed(tmp_path, tiny_bert, make_tagger):
    from safetensors.torch import load_file

    save_tagger(make_tagger(tiny_bert, fusion_layer=1), tmp_path / "ck")
    names = load_file(str(tmp_path / "ck" / WEIGHTS_FILE)).keys()
    assert names and all("lora_" in n or n.startswith(("fusion.", "classifier.")) for n in names)


def test_two_taggers_share_the_frozen_encoder_weights(tiny_checkpoints):
    baseline = load_tagger(tiny_checkpoints["baseline"])
    fusion = load_tagger(tiny_checkpoints["fusion"])
    word_a = baseline.encoder.get_input_embeddings().weight
    word_b = fusion.encoder.get_input_embeddings().weight
    assert word_a.data_ptr() == word_b.data_ptr()


def test_hash_changes_with_the_weights(tmp_path, tiny_bert, make_tagger):
    save_tagger(make_tagger(tiny_bert, seed=1), tmp_path / "a")
    save_tagger(make_tagger(tiny_bert, seed=2), tmp_path / "b")
    assert checkpoint_hash(tmp_path / "a") != checkpoint_hash(tmp_path / "b")
    assert len(checkpoint_hash(tmp_path / "a")) == 64


# ---- every bad-checkpoint case raises one clear error naming the file ----------------------

@pytest.fixture(scope="module")
def saved_once(tmp_path_factory, tiny_bert, make_tagger):
    return save_tagger(make_tagger(tiny_bert, fusion_layer=1), tmp_path_factory.mktemp("saved") / "ck")


@pytest.fixture
def saved(tmp_path, saved_once):
    """A fresh copy of one saved fusion checkpoint, for the test to break."""
    return Path(shutil.copytree(saved_once, tmp_path / "ck"))


def _edit_config(directory, change):
    path = directory / CONFIG_FILE
    info = json.loads(path.read_text())
    change(info)
    path.write_text(json.dumps(info))


def test_missing_directory(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_tagger(tmp_path / "nowhere")


def test_missing_config(saved):
    (saved / CONFIG_FILE).unlink()
    with pytest.raises(CheckpointError, match=f"{CONFIG_FILE}: missing"):
        load_tagger(saved)


def test_missing_weights(saved):
    (saved / WEIGHTS_FILE).unlink()
    with pytest.raises(CheckpointError, match=f"{WEIGHTS_FILE}: missing"):
        load_tagger(saved)


def test_config_that_is_not_json(saved):
    (saved / CONFIG_FILE).write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_tagger(saved)


def test_corrupt_weights(saved):
    (saved / WEIGHTS_FILE).write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_tagger(saved)


def test_truncated_weights(saved):
    data = (saved / WEIGHTS_FILE).read_bytes()
    (saved / WEIGHTS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=WEIGHTS_FILE):
        load_tagger(saved)


def test_wrong_shape(saved):
    _edit_config(saved, lambda info: info["config"].update(reduction=2))
    with pytest.raises(CheckpointError, match="has shape"):
        load_tagger(saved)


def test_weights_of_another_kind_of_model(saved):
    _edit_config(saved, lambda info: info["config"].update(fusion_layer=None))
    with pytest.raises(CheckpointError, match="does not match"):
        load_tagger(saved)


def test_unknown_encoder(saved):
    _edit_config(saved, lambda info: info["config"].update(encoder="./no/such/encoder"))
    with pytest.raises(CheckpointError, match="encoder"):
        load_tagger(saved)


def test_label_mismatch(saved):
    with pytest.raises(CheckpointError, match="label mismatch"):
        load_tagger(saved, expected_labels=["O", "B-MISC", "I-MISC"])
    _edit_config(saved, lambda info: info["config"].update(labels=["O", "B-PER", "I-PER"]))
    with pytest.raises(CheckpointError, match="has shape"):
        load_tagger(saved)
    _edit_config(saved, lambda info: info["config"].update(labels=["O", "B-PER"]))
    with pytest.raises(CheckpointError, match="every type needs both B- and I-"):
        load_tagger(saved)


def test_unknown_config_key_and_future_format(saved):
    _edit_config(saved, lambda info: info["config"].update(colour="blue"))
    with pytest.raises(CheckpointError, match="unknown config keys"):
        load_tagger(saved)
    _edit_config(saved, lambda info: info.update(format_version=99))
    with pytest.raises(CheckpointError, match="format_version"):
        load_tagger(saved)


@pytest.mark.slow  # the shipped checkpoints
@pytest.mark.parametrize("directory", sorted(p.parent for p in (REPO / "checkpoints").rglob(WEIGHTS_FILE)))
def test_shipped_checkpoints_are_small(directory):
    assert (directory / WEIGHTS_FILE).stat().st_size <= 10 * 1024 * 1024


def test_a_hub_repo_offline_is_a_clear_error_and_a_bare_path_never_goes_online():
    with pytest.raises(CheckpointError, match="fetching the Hugging Face repo 'someone/no-such-tagger'"):
        load_tagger("hf://someone/no-such-tagger")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_tagger("someone/no-such-tagger")


def test_what_is_saved_does_not_depend_on_where_the_weights_live(tmp_path, tiny_bert, make_tagger):
    """Moving a tagger (as accelerate does to a GPU) gives every tensor a new address; the
    checkpoint must still hold only what training changed, and load."""
    from fusion.model.checkpoint import changed_state

    tagger = make_tagger(tiny_bert, fusion_layer=1)
    before = set(changed_state(tagger))
    tagger.to(torch.float64).to(torch.float32)
    assert set(changed_state(tagger)) == before
    save_tagger(tagger, tmp_path / "moved")
    torch.testing.assert_close(_logits(load_tagger(tmp_path / "moved")), _logits(tagger))


def test_a_loaded_unmerged_lora_tagger_trains_only_what_it_saved(tiny_checkpoints):
    tagger = load_tagger(tiny_checkpoints["fusion"], merge=False)
    trainable = {n for n, p in tagger.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith(("fusion.", "classifier.")) for n in trainable)


# --- checkpoints prove what they are (fingerprint over config and weights) -------------------

def test_permuted_labels_without_their_label_fingerprint_are_refused(saved):
    def permute(info):
        info["config"]["labels"] = info["config"]["labels"][:1] + info["config"]["labels"][1:][::-1]
        del info["label_fingerprint"]

    _edit_config(saved, permute)
    with pytest.raises(CheckpointError, match="fingerprint does not match"):
        load_tagger(saved)


def test_an_edited_fusion_layer_is_refused(saved):
    _edit_config(saved, lambda info: info["config"].update(fusion_layer=0))  # same shapes as layer 1
    with pytest.raises(CheckpointError, match="fingerprint does not match"):
        load_tagger(saved)


def test_other_weights_under_the_same_config_are_refused(tmp_path, tiny_bert, make_tagger, saved):
    other = save_tagger(make_tagger(tiny_bert, fusion_layer=1, seed=5), tmp_path / "other")
    (saved / WEIGHTS_FILE).write_bytes((other / WEIGHTS_FILE).read_bytes())
    with pytest.raises(CheckpointError, match="fingerprint does not match"):
        load_tagger(saved)


def test_a_checkpoint_without_a_fingerprint_loads_only_on_trust(saved):
    _edit_config(saved, lambda info: info.pop("fingerprint"))
    with pytest.raises(CheckpointError, match="trust-unverified"):
        load_tagger(saved)
    tagger = load_tagger(saved, trust_unverified=True)
    assert tagger.verified is False


def test_the_shipped_checkpoints_prove_what_they_are():
    from fusion.model.checkpoint import checkpoint_fingerprint, file_sha256, read_checkpoint_info

    root = Path(__file__).resolve().parents[1] / "checkpoints"
    shipped = [d for d in root.iterdir() if (d / CONFIG_FILE).is_file()]
    assert len(shipped) >= 2
    for directory in shipped:
        info = read_checkpoint_info(directory)
        assert info["fingerprint"] == checkpoint_fingerprint(info["config"], file_sha256(directory / WEIGHTS_FILE))


@pytest.mark.parametrize("field,value", [("lora_rank", 1_000_000), ("lora_alpha", 10**9),
                                         ("reduction", 10**7), ("fusion_layer", 10**6)])
def test_configs_are_bounded_before_anything_is_built(saved, field, value):
    _edit_config(saved, lambda info: info["config"].update({field: value}))
    with pytest.raises(CheckpointError, match=field):
        load_tagger(saved)


def test_a_rank_above_the_encoders_width_is_refused(tiny_bert):
    from fusion.model.modeling import TaggerConfig, TokenTagger

    with pytest.raises(ValueError, match="lora_rank 64 exceeds the encoder's width 32"):
        TokenTagger(TaggerConfig(encoder=tiny_bert, lora_rank=64))


def test_a_hub_encoder_id_offline_fails_at_once_in_one_line(monkeypatch):
    """Refused before transformers is asked (which would retry the network for up to a minute)."""
    import transformers

    from fusion.model.encoders import EncoderError, build_encoder

    def never(*args, **kwargs):
        raise AssertionError("transformers was asked to load a hub id while offline")

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", never)
    with pytest.raises(EncoderError, match="hub is offline") as error:
        build_encoder("someone/not-cached-anywhere-model")
    assert "\n" not in str(error.value)
