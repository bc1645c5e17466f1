"""The offline encoder's SentencePiece tokenizer gives what transformers' reading of the same
tokenizer.json gives, on the shipped samples of 39 languages and on odd text."""

import json

import pytest
from conftest import REPO

from fusion.evaluation.error_analysis import read_sample
from fusion.model import encoders
from fusion.model.disk_cache import DiskCache
from fusion.model.encoders import build_encoder, offline_hf_tokenizer, offline_tokenizer

ODD_WORDS = [["a\u200bb", "\u200b", "x"], ["", "e"], [" "], ["\u3000"], ["a b"], ["😀", "👍🏽"], ["ﬁne", "Ⅻ", "①"],
             ["ภาษาไทย", "ง่าย"], ["北京", "是", "中国"], ["\u0301", "\x00", "\ufeff"],
             # equally scored segmentations, where SentencePiece alone would break the tie the other way
             ["....", "ευκαιρία....", "=" * 78, "*" * 32, "_" * 45, "Wait....what", "哈哈哈哈", "……"]]
ODD_TEXTS = ["Hello Paris, how are you?", "  leading and  double  spaces ", "abc\t", " ", "", "ภาษาไทยง่าย",
             "北京是中国的首都。", "L'été à Zürich", "জ্\u200c ও", "جلال \u200cالدین", "a\u200b",
             "Είναι η μόνη μας ευκαιρία.... Τα υπόλοιπα ==== ……"]


@pytest.fixture(scope="module")
def both():
    return offline_tokenizer(), offline_hf_tokenizer()


def shipped_sentences() -> list[list[str]]:
    return [s["tokens"] for path in sorted((REPO / "assets" / "error_samples").glob("*.json"))
            for s in read_sample(path)["sentences"]]


def test_every_shipped_sample_sentence_gets_the_same_pieces_and_words(both):
    ours, reference = both
    sentences = shipped_sentences() + ODD_WORDS
    assert len(sentences) > 1000  # 39 languages
    a = ours(sentences, is_split_into_words=True, add_special_tokens=False)
    b = reference(sentences, is_split_into_words=True, add_special_tokens=False)
    for i, words in enumerate(sentences):
        assert (a["input_ids"][i], a.tokens(i), a.word_ids(i)) == \
            (b["input_ids"][i], b.tokens(i), b.word_ids(i)), words
    one = ours(["Angela", "Merkel"], is_split_into_words=True)  # one sentence: flat lists, framed
    assert one["input_ids"][0] == ours.bos_token_id and one.word_ids()[1:3] == [0, 1]


def test_texts_get_the_same_ids_and_offsets(both):
    ours, reference = both
    for text in ODD_TEXTS + [" ".join(words) for words in shipped_sentences()[::7]]:
        a, b = ours(text, return_offsets_mapping=True), reference(text, return_offsets_mapping=True)
        assert (a["input_ids"], a["offset_mapping"], a.word_ids()) == \
            (b["input_ids"], b["offset_mapping"], b.word_ids()), text


def test_the_tiny_test_encoders_carry_the_offline_tokenizer(both, tiny_bert, tiny_xlmr):
    _, reference = both  # conftest copies the file rather than saving transformers' reading of it
    for folder in (tiny_bert, tiny_xlmr):
        tokenizer = build_encoder(folder)[1]
        assert len(tokenizer) == len(reference) and tokenizer.pad_token_id == reference.pad_token_id
        for text in ODD_TEXTS:
            assert tokenizer(text)["input_ids"] == reference(text)["input_ids"], (folder, text)


def test_pairs_are_framed_and_cut_as_transformers_does(both):
    ours, reference = both
    pairs = [(p["first"], p["second"]) for p in json.loads((REPO / "assets" / "pair_examples.json").read_text())]
    firsts, seconds = [a for a, _ in pairs], [b for _, b in pairs]
    for options in ({}, {"truncation": "longest_first", "max_length": 24}, {"truncation": True, "max_length": 9},
                    {"truncation": "only_second", "max_length": 48}):
        a, b = ours(firsts, seconds, **options), reference(firsts, seconds, **options)
        for i in range(len(pairs)):
            assert (a["input_ids"][i], a.sequence_ids(i)) == (b["input_ids"][i], b.sequence_ids(i)), (options, pairs[i])
    question, context = "Where did she go?", " ".join(firsts)
    options = dict(truncation="only_second", max_length=40, stride=13, return_overflowing_tokens=True,
                   return_offsets_mapping=True)
    a, b = ours(question, context, **options), reference(question, context, **options)
    assert len(a["input_ids"]) > 3 and a["input_ids"] == b["input_ids"]
    assert a["offset_mapping"] == b["offset_mapping"]
    assert [a.sequence_ids(i) for i in range(len(a["input_ids"]))] == \
        [b.sequence_ids(i) for i in range(len(b["input_ids"]))]


def test_what_is_not_offered_is_refused_never_ignored(both):
    ours, _ = both
    with pytest.raises(TypeError):
        ours("a", padding=True)
    with pytest.raises(ValueError, match="not offered"):
        ours("a", "b", truncation="only_first", max_length=4)
    with pytest.raises(TypeError, match="list of words"):
        ours("a b", is_split_into_words=True)
    assert ours.convert_ids_to_tokens(ours("Paris")["input_ids"]) == ["<s>", "▁Paris", "</s>"]
    assert (len(ours), ours.pad_token_id, ours.model_max_length) == (250002, 1, 512)


def test_the_model_is_built_once_and_a_damaged_one_made_again(tmp_path, monkeypatch):
    import base64

    import fusion.model.piece_tokenizer as piece_tokenizer

    pieces = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["\u2581", -3.0], ["\u2581Par", -2.0],
              ["is", -2.0], ["\u2581Paris", -1.0], ["<mask>", 0.0]]
    source = tmp_path / "tokenizer.json"  # a small Unigram tokenizer.json (SentencePiece's own NFKC rules)
    source.write_text(json.dumps({
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(b"").decode()}]},
        "model": {"type": "Unigram", "unk_id": 3, "vocab": pieces},
        "added_tokens": [{"content": p, "special": True} for p, _ in pieces if p.startswith("<")]}))
    monkeypatch.setattr(encoders, "e5_tokenizer_path", lambda: source)
    cache = DiskCache(tmp_path / "cache")
    first = offline_tokenizer(cache)
    assert first.convert_ids_to_tokens(first("Paris Par")["input_ids"]) == ["<s>", "\u2581Paris", "\u2581Par", "</s>"]
    [model] = (tmp_path / "cache").glob("*.model")
    built = piece_tokenizer.sentencepiece_model

    def never(_):
        raise AssertionError("built again although the cache holds it")

    monkeypatch.setattr(piece_tokenizer, "sentencepiece_model", never)
    assert offline_tokenizer(cache)("Paris")["input_ids"] == first("Paris")["input_ids"]
    model.write_bytes(b"damaged")  # its sha256 no longer matches: refused, removed, built again
    monkeypatch.setattr(piece_tokenizer, "sentencepiece_model", built)
    assert offline_tokenizer(cache)("Paris")["input_ids"] == first("Paris")["input_ids"]
    assert model.read_bytes() != b"damaged"
