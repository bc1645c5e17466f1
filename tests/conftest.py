"""Shared fixtures: tiny random encoders saved as local model directories (nothing downloaded)."""

import base64
import gzip
import hashlib
import json
import os
import random

os.environ["HF_HUB_OFFLINE"] = "1"  # no test touches the network, whatever the shell says
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
# the app's cache folder (the offline encoder's fp32 weights, ONNX graphs): the user's, unless set
os.environ.setdefault("LFE_CACHE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                                                    ".cache"))

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from fusion.evaluation.predictions import Sidecar, build_language, write_sidecar  # noqa: E402
from fusion.evaluation.runs import validate_run  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data" / "wikiann"
torch.set_num_threads(1)  # the tiny test encoders spend more on waking threads than on arithmetic


def _wordpiece_tokenizer():
    """A tiny mBERT-like WordPiece tokenizer (no '▁' pieces)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    pieces = ["angela", "merkel", "paris", "berlin", "visited", "in", "the", "new", "york",
              "times", "##s", "##ed", "a", "b", "c", "北", "京", ".", ","]
    vocab = {token: i for i, token in enumerate(specials + pieces)}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
    tokenizer.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                   model_max_length=512)


# what transformers saves beside an XLM-R tokenizer.json (tokenizer_config.json), written directly:
# reading the 250k-piece file through transformers only to save it again costs seconds per test run
XLMR_TOKENIZER_CONFIG = {"backend": "tokenizers", "bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>",
                         "mask_token": "<mask>", "model_max_length": 512, "pad_token": "<pad>",
                         "sep_token": "</s>", "tokenizer_class": "TokenizersBackend", "unk_token": "<unk>"}
XLMR_VOCAB_SIZE = 250_002


def _save_tiny(directory: Path, model_type: str, tokenizer=None) -> str:
    """A 3-layer random encoder saved as a local model folder: with `tokenizer` (a transformers
    tokenizer) saved beside it, or (None) with the offline encoder's XLM-R tokenizer file copied."""
    import shutil

    from transformers import AutoModel, BertConfig, XLMRobertaConfig

    torch.manual_seed(0)
    vocab_size = XLMR_VOCAB_SIZE if tokenizer is None else len(tokenizer)
    pad_id = 1 if tokenizer is None else tokenizer.pad_token_id
    common = dict(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=3,
                  num_attention_heads=2, intermediate_size=37, hidden_dropout_prob=0.0,
                  attention_probs_dropout_prob=0.0)
    if model_type == "bert":
        config = BertConfig(max_position_embeddings=512, pad_token_id=pad_id, **common)
    else:
        config = XLMRobertaConfig(max_position_embeddings=514, pad_token_id=1, bos_token_id=0,
                                  eos_token_id=2, **common)
    model = AutoModel.from_config(config, add_pooling_layer=False)
    model.save_pretrained(directory)
    if tokenizer is None:
        from fusion.model.encoders import e5_tokenizer_path

        shutil.copyfile(e5_tokenizer_path(), directory / "tokenizer.json")
        (directory / "tokenizer_config.json").write_text(json.dumps(XLMR_TOKENIZER_CONFIG), encoding="utf-8")
    else:
        tokenizer.save_pretrained(directory)
    return str(directory)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> str:
    """A 3-layer random BERT with the real XLM-R SentencePiece tokenizer, as a local directory."""
    return _save_tiny(tmp_path_factory.mktemp("tiny-bert"), "bert")


@pytest.fixture(scope="session")
def tiny_xlmr(tmp_path_factory) -> str:
    """A 3-layer random XLM-RoBERTa (positions offset by the pad index) with the XLM-R tokenizer."""
    return _save_tiny(tmp_path_factory.mktemp("tiny-xlmr"), "xlm-roberta")


@pytest.fixture(scope="session")
def tiny_wordpiece(tmp_path_factory) -> str:
    """A 3-layer random BERT with a tiny lower-casing WordPiece tokenizer (mBERT-like)."""
    return _save_tiny(tmp_path_factory.mktemp("tiny-wp"), "bert", _wordpiece_tokenizer())


@pytest.fixture(scope="session")
def make_tagger():
    """make_tagger(encoder_dir, fusion_layer=None, **config) -> an eval-mode TokenTagger."""
    from fusion.model.modeling import TaggerConfig, TokenTagger

    def make(encoder: str, fusion_layer=None, seed: int = 0, **config):
        torch.manual_seed(seed)
        tagger = TokenTagger(TaggerConfig(encoder=encoder, fusion_layer=fusion_layer, **config))
        with torch.no_grad():  # LoRA's B starts at zero: make adapters matter in round trips
            for name, parameter in tagger.named_parameters():
                if "lora_B" in name:
                    parameter.normal_(0, 0.02)
        return tagger.eval()

    return make


@pytest.fixture(scope="session")
def tiny_checkpoints(tiny_bert, tmp_path_factory) -> dict:
    """Saved tiny baseline and fusion (layer 1) checkpoints: {"baseline": dir, "fusion": dir}."""
    from fusion.model.checkpoint import save_tagger
    from fusion.model.modeling import TaggerConfig, TokenTagger

    root = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(1)
    baseline = TokenTagger(TaggerConfig(encoder=tiny_bert))
    fusion = TokenTagger(TaggerConfig(encoder=tiny_bert, fusion_layer=1))
    return {"baseline": str(save_tagger(baseline, root / "baseline")),
            "fusion": str(save_tagger(fusion, root / "fusion-l1"))}


@pytest.fixture(scope="session")
def models(tiny_checkpoints):
    """The tiny checkpoints loaded as the server's two slots, once: tests read them and never
    change them (a test that attaches a runtime or edits a tagger loads its own)."""
    from serve.slots import load_slots

    return load_slots(tiny_checkpoints["baseline"], tiny_checkpoints["fusion"])


# --- hand-made run records (the Results, Errors and Evaluate tabs' tests) ------------------

def make_record(name, model, fusion_layer, split, f1: dict, seed=13, sentences=100,
                train_sentences=20000, study=None) -> dict:
    """A run record of the shape fusion/evaluation/evaluate.py's run_evaluation writes."""
    scores = {lang: {"precision": value, "recall": value, "f1": value, "support": 50,
                     "per_type": {t: {"precision": value, "recall": value, "f1": value, "support": 10}
                                  for t in ("LOC", "ORG", "PER")}}
              for lang, value in f1.items()}
    from fusion.model.encoders import OFFLINE_ENCODER

    record = {
        "schema_version": 1, "name": name,
        "study": study or ("layer-sweep" if split == "dev" else "zero-shot"),
        "checkpoint": {"path": f"checkpoints/{model}", "sha256": "0" * 64, "encoder": OFFLINE_ENCODER,
                       "fusion_layer": fusion_layer, "model": model,
                       "training": {"seed": seed, "language": "en", "epochs": 3,
                                    "train_sentences": train_sentences, "dev_f1": f1["en"],
                                    "dev_sentences": 1000}},
        "data": {"source": "wikiann", "split": split, "max_sentences_per_language": sentences,
                 "sentences": {lang: sentences for lang in f1}, "sha256": {lang: "1" * 64 for lang in f1}},
        "seed": seed, "scores": scores, "average_f1": sum(f1.values()) / len(f1),
        "average_f1_targets": None, "source_language": "en", "versions": {}, "device": "cpu",
        "wall_seconds": 1.0, "date": "2025-01-01T00:00:00+00:00",
    }
    from fusion.evaluation.runs import validate_run

    return validate_run(record)


def write_runs(folder: Path) -> Path:
    """Two seeds of baseline and fusion-l1 on the test split, a 3-layer sweep, one broken file."""
    folder.mkdir(exist_ok=True)
    records = [
        make_record("baseline-s1", "baseline", None, "test", {"en": 0.80, "de": 0.60, "ar": 0.40, "zh": 0.20}, 1),
        make_record("baseline-s2", "baseline", None, "test", {"en": 0.82, "de": 0.62, "ar": 0.42, "zh": 0.22}, 2),
        make_record("fusion-s1", "fusion-l1", 1, "test", {"en": 0.81, "de": 0.65, "ar": 0.38, "zh": 0.30}, 1),
        make_record("fusion-s2", "fusion-l1", 1, "test", {"en": 0.83, "de": 0.67, "ar": 0.40, "zh": 0.32}, 2),
    ] + [make_record(f"sweep-l{k}", f"fusion-l{k}", k, "dev", {"en": 0.7 + k / 100, "de": 0.5, "ar": 0.3 + k / 10})
         for k in range(3)]
    for record in records:
        (folder / f"{record['name']}.json").write_text(json.dumps(record), encoding="utf-8")
    (folder / "broken.json").write_text("{ not json", encoding="utf-8")
    return folder


@pytest.fixture
def runs_dir(tmp_path) -> Path:
    return write_runs(tmp_path / "runs")


# --- the whole page, built once (the tests that read its components and events) -------------

@pytest.fixture(scope="session")
def tiny_probes(tiny_bert, tmp_path_factory) -> Path:
    """Saved untrained layer probes on the tiny encoder (the Layers tab's)."""
    from fusion.model.encoders import build_encoder
    from fusion.probing.probes import LayerProbes, ProbeConfig, save_probes

    config = build_encoder(tiny_bert)[0].config
    probes = LayerProbes(ProbeConfig(encoder=tiny_bert, n_layers=config.num_hidden_layers + 1,
                                     hidden=config.hidden_size))
    return save_probes(probes, tmp_path_factory.mktemp("probes"))


@pytest.fixture(scope="session")
def built_page(models, tiny_probes, tmp_path_factory):
    """(the page's gr.Blocks, its Services): ui/page.py's build_page on the tiny checkpoints, the
    hand-made runs, the tiny probes and the shipped examples, built once per session (about a
    second each time). Tests read its components and events and call its functions; none launches
    it. Not the shipped runs: those start a bootstrap of every shipped test set in the background."""
    from serve.services import Services, load_examples
    from serve.settings import Settings
    from ui import page

    # torch for the Layers probes: a graph swapped in mid-test would race the tests that watch the
    # encoder (tests/test_encoder_graph.py attaches it and waits)
    services = Services.create(models, runs_dir=write_runs(tmp_path_factory.mktemp("page") / "runs"),
                               examples=load_examples(), probes_dir=tiny_probes, settings=Settings(runtime="torch"))
    return page.build_page(services), services


# --- sentence-pair data in XTREME's layout (the Pairs tests) ------------------------------

XNLI_LABELS = ["entailment", "neutral", "contradiction"]


def write_xnli(root, n=40):
    """XTREME's layout: labelled dev files, unlabelled test files (CRLF), the German labelled test."""
    folder = root / "xnli"
    (folder / "xglue-de").mkdir(parents=True)
    premises = [f"premise number {i // 2} is here" for i in range(n)]  # two hypotheses per premise
    labels = [XNLI_LABELS[i % 3] for i in range(n)]
    test = "".join(f"{p}\thypothesis {i}\r\n" for i, p in enumerate(premises))
    for language in ("en", "de"):
        (folder / f"test-{language}.tsv").write_bytes(test.encode("utf-8"))
        (folder / f"dev-{language}.tsv").write_bytes("".join(
            f"{language} dev {i}\t{language} hyp {i}\t{labels[i]}\r\n" for i in range(n // 2)).encode("utf-8"))
    (folder / "xglue-de" / "test.txt").write_text(
        "".join(f" {p}\thypothese {i}\t{labels[i]}\n" for i, p in enumerate(premises)), encoding="utf-8")
    return labels


def write_pawsx(root):
    folder = root / "pawsx"
    for sub in ("xglue-de", "hf-zh"):
        (folder / sub).mkdir(parents=True)
    (folder / "dev-en.tsv").write_text('"He said ""yes"" ."\tHe agreed .\t1\r\nA b .\tB a .\t0\r\n', encoding="utf-8")
    for language in ("de", "zh", "fr"):
        (folder / f"test-{language}.tsv").write_text("eins\tzwei\r\ndrei\tvier\r\n", encoding="utf-8")
    (folder / "xglue-de" / "test_2k.tsv").write_text('id\tsentence1\tsentence2\tlabel\n1\t"eins\tzwei\t1\n2\tdrei\tvier\t0\n',
                                                     encoding="utf-8")
    (folder / "hf-zh" / "test.tsv").write_text("id\tsentence1\tsentence2\tlabel\n1\ta\tb\t0\n2\tc\td\t1\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
# NER run records with sidecars whose counts give their scores (tests of stored files)
# --------------------------------------------------------------------------------------------

NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
NER_TYPES = ["PER", "LOC"]
NER_HASHES = {"en": "e" * 64, "de": "d" * 64}


def ner_score(summed) -> dict:
    tp, predicted, gold = (int(x) for x in summed)
    return {"precision": tp / predicted if predicted else 0.0, "recall": tp / gold if gold else 0.0,
            "f1": 2 * tp / (predicted + gold) if predicted + gold else 0.0, "support": gold}


def ner_scores(counts: np.ndarray) -> dict:
    per_type = counts.sum(0)
    return {**ner_score(per_type.sum(0)), "per_type": {t: ner_score(per_type[i]) for i, t in enumerate(NER_TYPES)}}


def ner_record(name: str, model: str, seed: int, scores: dict, train_sentences: int = 20000, epochs: int = 3,
               study: str = "zero-shot") -> dict:
    f1 = [s["f1"] for s in scores.values()]
    return {
        "schema_version": 1, "name": name, "study": study,
        "checkpoint": {"path": f"checkpoints/{model}", "sha256": "0" * 64, "encoder": "enc", "model": model,
                       "fusion_layer": None if model == "baseline" else int(model.split("-l")[1]),
                       "training": {"seed": seed, "language": "en", "epochs": epochs,
                                    "train_sentences": train_sentences}},
        "data": {"source": "wikiann", "split": "test", "max_sentences_per_language": 40,
                 "sentences": {k: 40 for k in scores}, "sha256": {k: NER_HASHES[k] for k in scores}},
        "seed": seed, "scores": scores, "average_f1": sum(f1) / len(f1),
        "average_f1_targets": sum(s["f1"] for k, s in scores.items() if k != "en") / (len(scores) - 1),
        "source_language": "en",
    }


def write_ner_run(folder: Path, name: str, model: str = "fusion-l1", seed: int = 1, quality: float = 0.7) -> Path:
    """A NER run record and its sidecar, consistent: its scores are what its counts give."""
    rng = random.Random(f"{name}/{seed}")
    items, scores = {}, {}
    for language, digest in NER_HASHES.items():
        gold = [[rng.choice(["O", "B-PER", "B-LOC"]) for _ in range(5)] for _ in range(40)]
        predicted = [[t if rng.random() < quality else rng.choice(NER_LABELS) for t in s] for s in gold]
        items[language] = build_language(NER_LABELS, NER_TYPES, gold, predicted, digest)
        scores[language] = ner_scores(items[language].counts)
    sidecar = write_sidecar(folder / f"{name}.predictions.json.gz", Sidecar(NER_LABELS, NER_TYPES, items))
    record = ner_record(name, model, seed, scores)
    record["predictions"] = {"file": sidecar.name, "sha256": hashlib.sha256(sidecar.read_bytes()).hexdigest()}
    path = folder / f"{name}.json"
    path.write_text(json.dumps(validate_run(record)), encoding="utf-8")
    return path


def edit_sidecar(path: Path, change) -> str:
    """Rewrite a NER sidecar with change(payload) applied; returns its new sha256."""
    payload = json.loads(gzip.decompress(path.read_bytes()))
    change(payload)
    path.write_bytes(gzip.compress(json.dumps(payload).encode("utf-8"), mtime=0))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def zero_de_true_positives(payload) -> None:
    item = payload["languages"]["de"]
    counts = np.frombuffer(base64.b64decode(item["counts"]), dtype="<i2").copy().reshape(-1, 3)
    counts[:, 0] = 0
    item["counts"] = base64.b64encode(counts.astype("<i2").tobytes()).decode()


LIBRARY_PROBES = {"ldconfig", "gcc", "cc", "objdump", "ld", "uname"}


class StartedOutsideSlow(AssertionError):
    """A test not marked slow started a server or a child process (issue 24: the fast suite starts none)."""


@pytest.fixture(autouse=True)
def _fast_tests_start_no_server_or_child(request, monkeypatch):
    """Outside `slow`, listening on a socket (every server does) or starting a process fails the test."""
    if request.node.get_closest_marker("slow"):
        yield
        return
    import socket
    import subprocess

    def refuse(what):
        raise StartedOutsideSlow(f"{request.node.nodeid} {what}: mark it slow")

    start_child = subprocess.Popen._execute_child

    def child_unless_a_library_probe(process, args, *rest, **kwargs):
        # libraries' import-time probes (ctypes.util.find_library runs ldconfig, gcc or objdump),
        # whichever test imports them first: not the test's own work
        program = os.path.basename(str(args[0] if isinstance(args, (list, tuple)) else args).split()[0])
        if program not in LIBRARY_PROBES:
            refuse(f"starts a child process ({program})")
        return start_child(process, args, *rest, **kwargs)

    monkeypatch.setattr(socket.socket, "listen", lambda *_: refuse("listens on a socket (a server)"))
    monkeypatch.setattr(subprocess.Popen, "_execute_child", child_unless_a_library_probe)
    monkeypatch.setattr(os, "fork", lambda: refuse("forks a child process"))
    monkeypatch.setattr(os, "posix_spawn", lambda *_, **__: refuse("spawns a child process"))
    yield
