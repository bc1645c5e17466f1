"""Gradio's own floor for `bench/browser_latency.py`: Compare's components (the text box, the
button, the status line, both entity panes, the disagreement pane and the entity table, with the
same element ids) around a function that answers at once, with no models. What a click costs here
is what Gradio itself costs; the app's click over this is what the app adds.

    python bench/browser_latency.py --floor     # (the same as --reference bench/gradio_floor)

It takes the app's --host and --port, as bench/load.py's start_server passes them.
"""

import argparse

import gradio as gr
import pandas as pd

COLUMNS = ["text", "baseline", "fusion", "agree"]


def compare(text: str):
    """Every word as an entity of both models, at once."""
    words = (text or "").split()
    spans = [(word + " ", "LOC") for word in words]
    table = pd.DataFrame([[word, "LOC", "LOC", "yes"] for word in words], columns=COLUMNS)
    return f"{len(words)} words", spans, spans, [(word + " ", None) for word in words], table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args()
    with gr.Blocks(analytics_enabled=False) as demo:
        text = gr.Textbox(label="Text in any language", lines=3, elem_id="text")
        button = gr.Button("Compare", variant="primary", elem_id="compare-button")
        status = gr.Markdown()
        with gr.Row():
            baseline = gr.HighlightedText(label="baseline", elem_id="baseline-entities", show_legend=True)
            fusion = gr.HighlightedText(label="fusion", elem_id="fusion-entities", show_legend=True)
        disagreement = gr.HighlightedText(label="Where they disagree")
        table = gr.Dataframe(pd.DataFrame(columns=COLUMNS), elem_id="entity-table", interactive=False)
        gr.on([button.click, text.submit], compare, [text], [status, baseline, fusion, disagreement, table],
              api_name="compare")
    demo.queue().launch(server_name=args.host, server_port=args.port, theme=gr.themes.Soft())


if __name__ == "__main__":
    main()
