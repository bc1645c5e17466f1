"""A guided tour for a class: five short steps, each with a button that opens the tab it is about.
Closed by default, so it never stands in the way of someone who knows the app."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr


@dataclass(frozen=True)
class TourStep:
    title: str
    text: str  # Markdown, ours only
    tab: str  # the tab id its button opens
    button: str
    anchor: str | None = None  # elem_id the page scrolls to
    example: str | None = None  # the button also tags an example: FIRST or DISAGREEING


FIRST = "first"  # the first example (English: the models were trained on it)
DISAGREEING = "disagreeing"  # the first example marked "disagree" (the shipped models disagree on it)


STEPS = (
    TourStep("1. Try an example",
             "Both models tag the same text. Press the button (or click any example under the text "
             "box) and read the two panes side by side: each colour is an entity type.",
             "compare", "Tag an example", anchor="compare-status", example=FIRST),
    TourStep("2. Read the disagreement",
             "The button tags an example where the two models disagree. *Where they disagree* "
             "marks only what differs, in its legend's words: *only baseline* or *only fusion* where "
             "one model found an entity the other missed, *type differs*, *boundary differs*. Guess "
             "which model is right, then press *Show the right answer*.",
             "compare", "Show the disagreement", anchor="disagreement", example=DISAGREEING),
    TourStep("3. Open Inside",
             "Click a row of the entity table, or open *Inside*: the attention of any layer and "
             "head, and how much of each word the fusion model takes from the lower layer.",
             "inside", "Open Inside"),
    TourStep("4. Read Results",
             "Per-language F1 of both models over several seeds. A gain counts only when its 95 % "
             "interval excludes 0 (solid, starred bars).",
             "results", "Open Results"),
    TourStep("5. Upload your data",
             "Score both models on your own labelled sentences (CoNLL: a token and its tag per "
             "line). A sample file to start from is there.",
             "evaluate", "Open Evaluate your data"),
)


def example_text(step: TourStep, examples: list[dict]) -> str | None:
    """The text a step's button tags (None: it only opens its tab). Without a disagreeing
    example the disagreement step only shows the view."""
    if step.example == FIRST:
        chosen = examples[0] if examples else None
    elif step.example == DISAGREEING:
        chosen = next((item for item in examples if item.get("disagree") is True), None)
    else:
        chosen = None
    return chosen["text"] if chosen else None


def build() -> dict:
    """The closed accordion with the steps; returns it and one (step, button) pair per step."""
    parts = {"steps": []}
    with gr.Accordion("Guided tour: five steps for a class", open=False, elem_id="tour") as parts["accordion"]:
        for step in STEPS:
            with gr.Row(equal_height=True):
                gr.Markdown(f"**{step.title}.** {step.text}")
                button = gr.Button(step.button, size="sm", scale=0, min_width=170,
                                   elem_id=f"tour-{step.tab}-{len(parts['steps']) + 1}")
            parts["steps"].append((step, button))
    return parts
