import pytest
from conftest import SHARED_DATA

from fusion.data.ner import (DataFormatError, available_languages, iob1_to_iob2, load_split, panx_file,
                             read_conll, read_conll_sentences)

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


@pytest.mark.parametrize("bad_line, message", [("lonely\n", "expected a token, then a tab"),
                                               ("word\tX-PER\n", "tag .X-PER. is not O or B-/I-")])
def test_a_malformed_line_names_file_and_line(tmp_path, bad_line, message):
    path = _write(tmp_path, "Paris\tB-LOC\n\nok\tO\n" + bad_line)
    with pytest.raises(DataFormatError, match=rf"{path.name}:4: {message}"):
        read_conll_sentences(path)


def test_the_first_sentences_are_read_without_the_rest_of_the_file(tmp_path):
    path = _write(tmp_path, "Paris\tB-LOC\n\nok\tO\n\nlonely\n")  # line 5 is malformed
    assert read_conll_sentences(path, max_sentences=2) == [(["Paris"], ["B-LOC"]), (["ok"], ["O"])]
    assert read_conll(path, max_sentences=1)["tokens"] == [["Paris"]]
    with pytest.raises(DataFormatError, match=":5: expected a token"):
        read_conll_sentences(path, max_sentences=3)


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
