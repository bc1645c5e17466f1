import pytest

from conftest import SHARED_DATA
from fusion.data import (DataFormatError, align_labels, available_languages, iob1_to_iob2,
                         load_split, panx_file, read_conll, read_conll_sentences,
                         word_label_positions)
from fusion.modeling import IGNORE_INDEX, PANX_LABELS

LABEL2ID = {label: i for i, label in enumerate(PANX_LABELS)}


# ---- sub-word alignment -------------------------------------------------------------------

def test_first_subword_carries_the_label_and_the_rest_are_ignored():
    tokens = ["▁Ang", "ela", "▁Merkel", "▁visit", "ed"]
    word_ids = [0, 0, 1, 2, 2]
    labels = align_labels(tokens, word_ids, ["B-PER", "I-PER", "O"], LABEL2ID)
    assert labels == [LABEL2ID["B-PER"], IGNORE_INDEX, LABEL2ID["I-PER"], LABEL2ID["O"], IGNORE_INDEX]


def test_a_bare_prefix_piece_never_carries_the_label():
    # XLM-R turns each Chinese character into "▁" + the character (DESIGN.md §4)
    tokens = ["▁", "北", "▁", "京", "▁是"]
    word_ids = [0, 0, 1, 1, 2]
    assert word_label_positions(tokens, word_ids) == {0: 1, 1: 3, 2: 4}
    labels = align_labels(tokens, word_ids, ["B-LOC", "I-LOC", "O"], LABEL2ID)
    assert labels == [IGNORE_INDEX, LABEL2ID["B-LOC"], IGNORE_INDEX, LABEL2ID["I-LOC"], LABEL2ID["O"]]


def test_special_tokens_and_a_word_that_is_only_a_bare_piece():
    tokens = ["<s>", "▁", "▁x", "</s>"]
    word_ids = [None, 0, 1, None]
    assert word_label_positions(tokens, word_ids) == {0: 1, 1: 2}


def test_alignment_with_the_real_tokenizer_on_chinese(tiny_bert, make_tagger):
    tokenizer = make_tagger(tiny_bert).tokenizer
    words = list("北京大学") + ["Paris"]
    enc = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
    tokens, word_ids = enc.tokens(), enc.word_ids()
    positions = word_label_positions(tokens, word_ids)
    assert sorted(positions) == list(range(len(words)))
    assert all(tokens[p] != "▁" for p in positions.values())
    assert "▁" in tokens  # the case the rule exists for really occurs


def test_wordpiece_tokenizer_labels_first_piece(tiny_wordpiece, make_tagger):
    tokenizer = make_tagger(tiny_wordpiece).tokenizer
    enc = tokenizer(["visited", "times"], is_split_into_words=True, add_special_tokens=False)
    assert "▁" not in "".join(enc.tokens())  # WordPiece pieces: the rule changes nothing here
    positions = word_label_positions(enc.tokens(), enc.word_ids())
    assert positions == {0: 0, 1: enc.word_ids().index(1)}


# ---- readers ----------------------------------------------------------------------------

def _write(tmp_path, text, name="data.conll", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_conll_reader_skips_docstart_and_converts_iob1(tmp_path):
    path = _write(tmp_path, "-DOCSTART- -X- O O\n\nEU NNP B-NP I-ORG\nrejects VBZ B-VP O\n"
                            "German JJ B-NP I-MISC\ncall NN I-NP O\n\nPeter NNP B-NP I-PER\n"
                            "Blackburn NNP I-NP I-PER\n")
    dataset = read_conll(path)
    assert dataset["tokens"] == [["EU", "rejects", "German", "call"], ["Peter", "Blackburn"]]
    assert dataset["ner_tags"] == [["B-ORG", "O", "O", "O"], ["B-PER", "I-PER"]]


def test_unknown_tags_become_o_with_a_printed_count(tmp_path, capsys):
    path = _write(tmp_path, "Monday\tB-DATE\nin\tO\nRome\tB-LOC\n")
    dataset = read_conll(path)
    assert dataset["ner_tags"] == [["O", "O", "B-LOC"]]
    assert "1 tags outside" in capsys.readouterr().err


def test_iob1_to_iob2_only_changes_entity_starts():
    assert iob1_to_iob2(["I-PER", "I-PER", "I-LOC", "O", "I-LOC"]) == \
        ["B-PER", "I-PER", "B-LOC", "O", "B-LOC"]
    assert iob1_to_iob2(["B-PER", "I-PER", "B-PER"]) == ["B-PER", "I-PER", "B-PER"]


@pytest.mark.parametrize("bad_line, message", [("lonely\n", "expected 'TOKEN<TAB>TAG'"),
                                               ("word\tX-PER\n", "tag .X-PER. is not O or B-/I-")])
def test_a_malformed_line_names_file_and_line(tmp_path, bad_line, message):
    path = _write(tmp_path, "Paris\tB-LOC\n\nok\tO\n" + bad_line)
    with pytest.raises(DataFormatError, match=rf"{path.name}:4: {message}"):
        read_conll_sentences(path)


def test_latin1_needs_its_encoding_and_then_reads(tmp_path):
    path = _write(tmp_path, "Zürich\tB-LOC\nist\tO\n", encoding="latin-1")
    with pytest.raises(DataFormatError, match="encoding='latin-1'"):
        read_conll(path)
    assert read_conll(path, encoding="latin-1")["tokens"] == [["Zürich", "ist"]]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DataFormatError, match="no such file"):
        read_conll(tmp_path / "nope.tsv")


def test_flat_xtreme_layout_and_language_listing(tmp_path):
    _write(tmp_path, "Oslo\tB-LOC\n", name="test-nb.tsv")
    (tmp_path / "de").mkdir()
    _write(tmp_path / "de", "Bonn\tB-LOC\n", name="test.tsv")
    assert available_languages(tmp_path, "test") == ["de", "nb"]
    assert panx_file(tmp_path, "nb", "test").name == "test-nb.tsv"
    with pytest.raises(DataFormatError, match="no dev file for language 'nb'"):
        panx_file(tmp_path, "nb", "dev")


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not beside the checkout")
def test_shared_wikiann_slices_read_as_datasets():
    english = load_split(SHARED_DATA, "en", "train", max_sentences=50)
    assert len(english) == 50 and english.column_names == ["tokens", "ner_tags"]
    assert english["tokens"][0][:2] == ["R.H.", "Saunders"]
    assert english["ner_tags"][0][:2] == ["B-ORG", "I-ORG"]
    chinese = load_split(SHARED_DATA, "zh", "test", max_sentences=5)
    assert all(len(token) == 1 for sentence in chinese["tokens"] for token in sentence)
    assert len(available_languages(SHARED_DATA, "test")) == 39


def test_hub_wikiann_rows_are_mapped_to_tag_strings(monkeypatch):
    """The hub path, with `datasets.load_dataset` replaced by a dataset of wikiann's shape."""
    import datasets

    names = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
    features = datasets.Features({
        "tokens": datasets.Sequence(datasets.Value("string")),
        "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names)),
        "langs": datasets.Sequence(datasets.Value("string")),
        "spans": datasets.Sequence(datasets.Value("string"))})
    fake = datasets.Dataset.from_dict({"tokens": [["Rome", "is"]], "ner_tags": [[5, 0]],
                                       "langs": [["it", "it"]], "spans": [["LOC: Rome"]]},
                                      features=features)
    asked = {}

    def fake_load(name, config, split):
        asked.update(name=name, config=config, split=split)
        return fake

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    dataset = load_split("wikiann", "it", "dev", max_sentences=5)
    assert asked == {"name": "wikiann", "config": "it", "split": "validation[:5]"}
    assert dataset.column_names == ["tokens", "ner_tags"]
    assert dataset["ner_tags"] == [["B-LOC", "O"]]
