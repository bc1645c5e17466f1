"""Shared fixtures: tiny random encoders saved as local model directories (nothing downloaded)."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # no test touches the network, whatever the shell says
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data" / "wikiann"


def _xlmr_tokenizer():
    from fusion.encoders import offline_tokenizer

    return offline_tokenizer()


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


def _save_tiny(directory: Path, model_type: str, tokenizer) -> str:
    from transformers import AutoModel, BertConfig, XLMRobertaConfig

    torch.manual_seed(0)
    common = dict(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=3,
                  num_attention_heads=2, intermediate_size=37, hidden_dropout_prob=0.0,
                  attention_probs_dropout_prob=0.0)
    if model_type == "bert":
        config = BertConfig(max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id, **common)
    else:
        config = XLMRobertaConfig(max_position_embeddings=514, pad_token_id=1, bos_token_id=0,
                                  eos_token_id=2, **common)
    model = AutoModel.from_config(config, add_pooling_layer=False)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> str:
    """A 3-layer random BERT with the real XLM-R SentencePiece tokenizer, as a local directory."""
    return _save_tiny(tmp_path_factory.mktemp("tiny-bert"), "bert", _xlmr_tokenizer())


@pytest.fixture(scope="session")
def tiny_xlmr(tmp_path_factory) -> str:
    """A 3-layer random XLM-RoBERTa (positions offset by the pad index) with the XLM-R tokenizer."""
    return _save_tiny(tmp_path_factory.mktemp("tiny-xlmr"), "xlm-roberta", _xlmr_tokenizer())


@pytest.fixture(scope="session")
def tiny_wordpiece(tmp_path_factory) -> str:
    """A 3-layer random BERT with a tiny lower-casing WordPiece tokenizer (mBERT-like)."""
    return _save_tiny(tmp_path_factory.mktemp("tiny-wp"), "bert", _wordpiece_tokenizer())


@pytest.fixture
def make_tagger():
    """make_tagger(encoder_dir, fusion_layer=None, **config) -> an eval-mode TokenTagger."""
    from fusion.modeling import TaggerConfig, TokenTagger

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
    from fusion.checkpoint import save_tagger
    from fusion.modeling import TaggerConfig, TokenTagger

    root = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(1)
    baseline = TokenTagger(TaggerConfig(encoder=tiny_bert))
    fusion = TokenTagger(TaggerConfig(encoder=tiny_bert, fusion_layer=1))
    return {"baseline": str(save_tagger(baseline, root / "baseline")),
            "fusion": str(save_tagger(fusion, root / "fusion-l1"))}
