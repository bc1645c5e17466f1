import json

import pytest
import torch
from conftest import SHARED_DATA
from safetensors.torch import load_file

import fusion.training.train as train_module
from fusion.model.checkpoint import load_tagger
from fusion.model.modeling import TaggerConfig, TokenTagger
from fusion.training.train import TrainOptions, train

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not beside the checkout")


def _options(tmp_path, name, **changes):
    values = dict(output_dir=str(tmp_path / name), data=str(SHARED_DATA), max_train_sentences=64,
                  max_dev_sentences=16, epochs=3, batch_size=16, learning_rate=3e-3, seed=5,
                  save_every=2)
    values.update(changes)
    return TrainOptions(**values)


def _tagger(encoder, fusion_layer=1):
    torch.manual_seed(0)
    return TokenTagger(TaggerConfig(encoder=encoder, fusion_layer=fusion_layer, tuning="full"))


def test_loss_falls_and_the_best_epoch_is_saved_with_its_log(tmp_path, tiny_bert):
    summary = train(_options(tmp_path, "run"), show_progress=False, tagger=_tagger(tiny_bert))
    losses = [entry["train_loss"] for entry in summary["history"]]
    assert losses[-1] < losses[0] * 0.8
    tagger = load_tagger(tmp_path / "run")
    training = tagger.checkpoint_info["training"]
    assert training["best_epoch"] == summary["best_epoch"]
    assert training["train_sentences"] == 64 and training["seed"] == 5
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert [entry["epoch"] for entry in log if "dev_f1" in entry] == [1, 2, 3]


@pytest.mark.slow  # trains twice
def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path, tiny_bert, monkeypatch):
    train(_options(tmp_path, "straight", epochs=2), show_progress=False, tagger=_tagger(tiny_bert))

    calls = {"n": 0}
    real_pad_batch = train_module.pad_batch

    def crashing_pad_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 7:  # epoch 2, step 3: after the resume point at step 2
            raise KeyboardInterrupt
        return real_pad_batch(*args, **kwargs)

    monkeypatch.setattr(train_module, "pad_batch", crashing_pad_batch)
    with pytest.raises(KeyboardInterrupt):
        train(_options(tmp_path, "resumed", epochs=2), show_progress=False, tagger=_tagger(tiny_bert))
    monkeypatch.setattr(train_module, "pad_batch", real_pad_batch)
    state = json.loads((tmp_path / "resumed" / "resume" / "state.json").read_text())
    assert (state["epoch"], state["step_in_epoch"]) == (1, 2)
    train(_options(tmp_path, "resumed", epochs=2), show_progress=False, tagger=_tagger(tiny_bert))

    straight = load_file(str(tmp_path / "straight" / "model.safetensors"))
    resumed = load_file(str(tmp_path / "resumed" / "model.safetensors"))
    assert straight.keys() == resumed.keys()
    for name in straight:
        torch.testing.assert_close(resumed[name], straight[name], rtol=1e-5, atol=1e-6)

