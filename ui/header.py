"""The page's header: the title, what the two models are, the guided tour and the link tools."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from fusion.model.encoders import ENCODER_DESCRIPTIONS, OFFLINE_ENCODER
from serve.markdown import code, plain
from serve.paths import relative
from serve.slots import SIDES, TaggerSlot, runtime_note
from ui import tour
from ui.common import safe
from ui.markup import COPY_LINK_JS, scroll_js

PAPER_URL = "https://arxiv.org/abs/2205.08497"
PAPER = ("Chen et al. 2022, *Feature Aggregation in Zero-Shot Cross-Lingual Transfer Using "
         "Multilingual BERT*")
INTRO = ("Two named-entity taggers trained on English only, tried on any language: the baseline "
         "reads the encoder's last layer, the fusion model also a lower one.")
# The words a class needs, without jargon; the jargon (WikiANN, AIF, dev F1, the encoder's
# weights and vocabulary) is under "About these models".
PLAIN_WORDS = (
    "**In plain words:** an *entity* is a name in the text: a person (PER), an organisation (ORG) "
    "or a place (LOC). The encoder reads a sentence through a stack of *layers*, each reworking "
    "what the one below made of every word; the baseline tags from the last layer. The fusion "
    "model also reads one lower layer, and its *gate* decides, word by word, how much to take "
    "from each.")
ENCODER_NOTE = (
    "\n\n> **Encoder note.** The paper fine-tunes mBERT (`bert-base-multilingual-cased`). These "
    "checkpoints use **multilingual-e5-small, not mBERT**: a 12-layer, 384-wide BERT-architecture "
    "encoder with the XLM-R vocabulary, the one multilingual model that runs offline here. Expect "
    "different numbers from the paper's; train with `--encoder bert-base-multilingual-cased` for "
    "its setting.")


def describe_encoder(name: str) -> str:
    if name in ENCODER_DESCRIPTIONS:
        return ENCODER_DESCRIPTIONS[name]
    return f"{code(name)} ({'local model' if Path(name).is_dir() else 'Hugging Face'})"


def slot_title(slot: TaggerSlot) -> str:
    if slot.side == "baseline":
        return "Baseline (last layer)"
    layer = slot.tagger.config.fusion_layer if slot.ready else None
    return f"Fusion (last layer + layer {layer}, AIF gate)" if layer is not None else "Fusion"


def slot_titles(slots: dict[str, TaggerSlot]) -> dict[str, str]:
    """Each side's title, as the Compare panes and the exports name it."""
    return {side: slot_title(slots[side]) if side in slots else side for side in SIDES}


def title_markdown(slots: dict[str, TaggerSlot]) -> str:
    """The title every screen shows; a model that did not load is named here too."""
    missing = [side for side, slot in slots.items() if not slot.ready]
    unverified = [side for side, slot in slots.items() if slot.ready and not slot.tagger.verified]
    warning = (f"\n\n⚠️ Not loaded: {', '.join(missing)} (see *About these models*)." if missing else "")
    if unverified:
        warning += (f"\n\n⚠️ Unverified checkpoint: {', '.join(unverified)} (no fingerprint ties its labels, "
                    "fusion layer and weights together; loaded with --trust-unverified).")
    return "# Layer Fusion Explorer" + warning


def _slot_line(slot: TaggerSlot) -> str:
    if not slot.ready:
        return f"- **{slot.side}**: ⚠️ not loaded: {plain(slot.error)}"
    config = slot.tagger.config
    training = slot.tagger.checkpoint_info.get("training", {})
    reads = ("reads the last layer" if config.fusion_layer is None
             else f"reads the last layer + layer {config.fusion_layer} through the AIF gate")
    dev = training.get("dev_f1")
    dev_text = (f" · English dev F1 {100 * dev:.1f} (epoch {plain(training.get('best_epoch', '?'))})"
                if isinstance(dev, (int, float)) else "")
    return (f"- **{slot.side}** {plain(relative(slot.directory))} · encoder "
            f"{describe_encoder(config.encoder)} · {reads}{dev_text}")


def header_markdown(slots: dict[str, TaggerSlot]) -> str:
    """The details under the title: what the models are, each checkpoint, the encoder note."""
    encoders = {s.tagger.config.encoder for s in slots.values() if s.ready}
    return (
        "A named-entity tagger trained on **English** WikiANN only, applied with no further "
        "training to text in any language (zero-shot cross-lingual transfer). The **baseline** "
        "tags from the encoder's last layer; the **fusion** model also feeds one lower layer "
        "through a gated fusion module (AIF), after "
        f"[{PAPER}]({PAPER_URL}) (arXiv 2205.08497).\n\n" + "\n".join(_slot_line(s) for s in slots.values())
        + (ENCODER_NOTE if OFFLINE_ENCODER in encoders else ""))


def runtime_markdown(slots: dict[str, TaggerSlot]) -> str:
    """Which runtime answers Compare (an export's error is shown as typed, never as markup)."""
    line = runtime_note(slots)
    return f"*{plain(line)}*" if line else ""


def plain_header() -> str:
    """What wide screens show under the title: what the app does, and its words in plain language."""
    return f"{INTRO}\n\n{PLAIN_WORDS}"


class Header:
    """Under the title, in plain words, what the app does (a phone: one line, the words folded
    away); the details and their jargon under "About these models". Beside the tour: the link
    tools (copy it; a note when it holds only the start of the text)."""

    def __init__(self, slots: dict[str, TaggerSlot]):
        gr.Markdown(title_markdown(slots), elem_id="intro")
        gr.Markdown(plain_header(), elem_id="header", elem_classes=["wide-only"])
        gr.Markdown(INTRO, elem_id="intro-short", elem_classes=["narrow-only"])
        with gr.Accordion("About these models", open=False, elem_id="about"):
            gr.Markdown(PLAIN_WORDS, elem_classes=["narrow-only"])  # a phone's plain words
            gr.Markdown(header_markdown(slots), elem_id="about-models")
            # which runtime answers Compare: the export ends after the page is built, so each visit reads it
            self.runtime = gr.Markdown(runtime_markdown(slots), elem_id="runtime-note", elem_classes=["help"])
        with gr.Row(elem_id="page-tools"):
            with gr.Column(scale=5):
                self.tour = tour.build()
            with gr.Column(scale=1, min_width=150):
                self.copy_link = gr.Button("Copy link to this view", size="sm", elem_id="copy-link")
                self.copy_status = gr.Markdown(elem_id="copy-status")
                self.link_note = gr.Markdown(elem_id="link-note")

    def wire(self, page) -> None:
        """The copy button; which runtime answers Compare, read at each visit; each tour step
        opens its tab (the first two also tag an example: the first, then one the models
        disagree on)."""
        self.copy_link.click(None, None, [self.copy_status], js=COPY_LINK_JS)

        def on_runtime():
            return runtime_markdown(page.services.slots)

        page.blocks.load(safe(on_runtime, lambda message: message), None, self.runtime,
                         api_visibility="private", queue=False, show_progress="hidden")
        for step, button in self.tour["steps"]:
            event = page.show_tab(button.click, step.tab)
            text = tour.example_text(step, page.services.examples)
            if text is not None:
                page.send_to_compare(event.then, lambda text=text: text, None, scroll=scroll_js(step.anchor),
                                     open_tab=False)
                continue
            event.then(None, None, None, js=scroll_js(step.anchor))
