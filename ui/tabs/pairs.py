"""Pairs: two sentences in any language -> each model's label and class probabilities side by
side (XNLI: does the first imply the second? PAWS-X: do they say the same?), where they disagree
said in words, and inside the pair: one model's attention across both sentences and its gate per
token. Examples come from the XNLI and PAWS-X dev sets with their gold labels, which a teacher can
reveal. The classifiers load on the first request (serve/pairs.py)."""

from __future__ import annotations

from typing import NamedTuple

import gradio as gr

from serve.markdown import plain
from serve.pairs import LABEL_WORDS, TASK_TITLES, PairView
from serve.paths import PAIR_EXAMPLES_FILE
from ui import plots
from ui.common import Parts, clamp, safe

HELP = ("**Two sentences, one question.** *XNLI* asks whether the first sentence implies the second "
        "(entailment), rules it out (contradiction), or neither (neutral); *PAWS-X* whether the two say "
        "the same thing. Both models were trained on English pairs only; try a pair in another language "
        "and see whether they still answer, and whether they agree.")
NO_MODELS = ("No sentence-pair classifiers are installed (they ship in checkpoints/pairs/; "
             "scripts/pair_runs.sh trains them).")


class PairAnswerValues(NamedTuple):
    verdict: str
    baseline: object  # gr.Label value: {label words: probability}, or None
    fusion: object


def load_pair_examples(path=PAIR_EXAMPLES_FILE) -> list[dict]:
    import json

    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    keys = ("task", "language", "first", "second", "label")
    return [item for item in items if isinstance(item, dict) and all(isinstance(item.get(k), str) for k in keys)]


def example_title(number: int, item: dict) -> str:
    return f"{number + 1}. {item['language']} · {item['task']} · {item['first'][:40]}"


def verdict(view: PairView, titles: dict[str, str]) -> str:
    """The answer in words: both labels, and whether the models agree."""
    lines = [plain(note) for note in view.notes]
    if view.answers:
        said = [f"**{plain(titles.get(side, side))}**: {plain(answer.words)} "
                f"({max(answer.probabilities.values()):.0%})" for side, answer in view.answers.items()]
        lines.insert(0, " · ".join(said))
    if view.agree is False:
        lines.insert(1, "**The models disagree** on this pair.")
    elif view.agree:
        lines.insert(1, "Both models give the same answer.")
    return "\n\n".join(lines)


class PairsTab:
    def __init__(self, page, tab: gr.Tab):
        self.tab, self.titles = tab, page.titles
        self.service = page.services.pairs
        self.examples = load_pair_examples()
        self.parts = Parts()
        gr.Markdown(HELP, elem_classes=["help"])
        tasks = self.service.tasks
        with gr.Row():
            self.parts["task"] = gr.Radio([(TASK_TITLES[t], t) for t in LABEL_WORDS], value=(tasks or ["xnli"])[0],
                                          label="Task")
            self.parts["example"] = gr.Dropdown([(example_title(i, e), i) for i, e in enumerate(self.examples)],
                                                value=None, label="Example (XNLI / PAWS-X dev sets)")
        with gr.Row():
            self.parts["first"] = gr.Textbox(label="First sentence", lines=2, max_length=2000)
            self.parts["second"] = gr.Textbox(label="Second sentence", lines=2, max_length=2000)
        with gr.Row():
            self.parts["classify"] = gr.Button("Classify the pair", variant="primary")
            self.parts["reveal"] = gr.Button("Show the right answer")
        self.parts["verdict"] = gr.Markdown("" if tasks else NO_MODELS)
        self.parts["gold"] = gr.Markdown("")
        with gr.Row():
            self.parts["baseline"] = gr.Label(label=self.titles.get("baseline", "baseline"), num_top_classes=3)
            self.parts["fusion"] = gr.Label(label=self.titles.get("fusion", "fusion"), num_top_classes=3)
        with gr.Accordion("Inside the pair: attention across both sentences, and the gate", open=False):
            with gr.Row():
                self.parts["side"] = gr.Radio(["baseline", "fusion"], value="fusion", label="Model")
                self.parts["layer"] = gr.Number(12, label="Layer", precision=0, minimum=1, maximum=12)
                self.parts["head"] = gr.Number(1, label="Head", precision=0, minimum=1, maximum=12)
                self.parts["explain"] = gr.Button("Show")
            self.parts["attention"] = gr.Plot(show_label=False)
            self.parts["gates"] = gr.Plot(show_label=False)

    def on_classify(self, task, first, second) -> dict:
        view = self.service.classify(task, first, second)
        answers = {side: view.answers[side].probabilities if side in view.answers else None
                   for side in ("baseline", "fusion")}
        return self.parts.updates(PairAnswerValues(verdict(view, self.titles), **answers))

    def on_example(self, number) -> dict:
        if number is None or not 0 <= int(number) < len(self.examples):
            return {}
        item = self.examples[int(number)]
        return {self.parts["task"]: item["task"], self.parts["first"]: item["first"],
                self.parts["second"]: item["second"], self.parts["gold"]: ""}

    def on_reveal(self, number, first, second) -> str:
        item = self.examples[int(number)] if number is not None and 0 <= int(number) < len(self.examples) else None
        if item is None or (item["first"], item["second"]) != ((first or "").strip(), (second or "").strip()):
            return "The right answer is known for the examples as they are given (pick one above)."
        return (f"Right answer ({plain(item['source'] if 'source' in item else item['task'])}): "
                f"**{plain(LABEL_WORDS[item['task']].get(item['label'], item['label']))}**")

    def on_explain(self, task, side, first, second, layer, head) -> dict:
        explanation = self.service.explain(task, side, first, second, clamp(layer, 12, 1), clamp(head, 12, 1))
        tokens = explanation.tokens
        title = f"{side}: layer {clamp(layer, 12, 1)}, head {clamp(head, 12, 1)} (second sentence from token {explanation.second_starts + 1})"
        slot = self.service.slots(task)[side]
        return {self.parts["attention"]: plots.attention_heatmap(tokens, explanation.attention, title),
                self.parts["gates"]: plots.gate_share_bars(tokens, explanation.gate_shares,
                                                           slot.tagger.config.fusion_layer)}

    def wire(self, page) -> None:
        parts = self.parts
        failed = lambda message: {parts["verdict"]: plain(message)}  # noqa: E731
        inputs = parts.pick("task", "first", "second")
        gr.on([parts["classify"].click, parts["second"].submit], safe(self.on_classify, failed), inputs,
              parts.pick("verdict", "baseline", "fusion"), api_name="pairs")
        parts["example"].input(safe(self.on_example, failed), [parts["example"]],
                               parts.pick("task", "first", "second", "gold"), api_visibility="private",
                               ).then(safe(self.on_classify, failed), inputs, parts.pick("verdict", "baseline", "fusion"),
                                      api_visibility="private")
        parts["reveal"].click(safe(self.on_reveal, plain), parts.pick("example", "first", "second"), [parts["gold"]],
                              api_visibility="private")
        failed_plot = lambda message: {parts["attention"]: plots.message_figure(message)}  # noqa: E731
        parts["explain"].click(safe(self.on_explain, failed_plot),
                               [parts["task"], parts["side"], parts["first"], parts["second"], parts["layer"], parts["head"]],
                               parts.pick("attention", "gates"), api_name="pair_inside")
