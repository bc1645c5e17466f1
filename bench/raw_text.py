"""Raw text against pre-split sentences: what a user pasting text gets, measured on WikiANN test.

For each language, the first N test sentences are detokenised into raw text (fusion/evaluation/raw_text.py:
spaces between words, punctuation attached as people write it, no spaces in Chinese and Japanese)
and tagged through the public `predict`; predicted entity character spans are scored against the
gold ones (exact start, end and type). Three F1 columns per language and model:
* pre-split: the gold words tagged directly (what `python -m fusion evaluate` reports);
* raw sentence: each sentence's raw text on its own;
* raw paragraph: 10 consecutive sentences pasted as one text (a fragment without final
  punctuation gets a line break after it), so sentence splitting is part of what is measured.
Each row also counts, from sentence splitting alone, the test lines cut into several sentences
and the places where a paragraph was cut differently from its sentences one by one (a sentence's
end merged with the next, or a cut inside a sentence): since each sentence is tagged on its own,
those are the only way raw paragraph can score below raw sentence. On the lines cut, it prints
precision and recall pre-split (the line tagged whole) against raw sentence (sentence by
sentence), so what cutting changes is measured where it happens.
Targets: raw sentence ≥ pre-split − 1.0 and raw paragraph ≥ raw sentence − 1.0, every language.

It also prints how often re-splitting a detokenised sentence gives back the gold tokens inside
entities (target ≥ 99.5 % for en, de, fr, es, ru; WikiANN's wiki-markup quotes '' and `` are not
counted), and the throughput of raw paragraphs against `evaluate`'s path on the same sentences,
measured in one run (target ≥ 0.8 ×).

    python bench/raw_text.py --data ../shared/data/wikiann [--sentences 500] [--markdown]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fusion.data.ner import load_split  # noqa: E402
from fusion.evaluation.evaluate import predict_dataset, score_tags  # noqa: E402
from fusion.evaluation.raw_text import (cut_differences, detokenise, is_markup_quote, paragraph,  # noqa: E402
                                        span_scores)
from fusion.model.checkpoint import load_tagger  # noqa: E402
from fusion.tagging.predict import predict, tag_words  # noqa: E402
from fusion.text.segmentation import split_sentences, split_words  # noqa: E402

LANGUAGES = "en,de,es,ru,ar,hi,zh,ja,ko,sw,tr,vi"
WORD_RATE_LANGUAGES = "en,de,fr,es,ru"
PARAGRAPH = 10  # sentences per pasted paragraph


def word_rate(dataset, language: str) -> tuple[int, int]:
    """(gold tokens inside entities given back exactly by split_words, such tokens counted)."""
    kept = total = 0
    for tokens, tags in zip(dataset["tokens"], dataset["ner_tags"]):
        raw = detokenise(tokens, tags, language)
        spans = set(split_words(raw.text))
        for token, tag, span in zip(tokens, tags, raw.tokens):
            if tag != "O" and not is_markup_quote(token):
                total += 1
                kept += span in spans
    return kept, total


def segmentation_report(paragraphs, alone, language: str) -> dict:
    """Sentence splitting alone, no model: WikiANN lines cut into several sentences, and
    paragraph boundaries merged or cut differently from the sentences split one by one
    (`alone`: each sentence's own spans)."""
    merged = different = 0
    for i, joined in enumerate(paragraphs):
        m, d = cut_differences(joined, split_sentences(joined.text, language),
                               alone[i * PARAGRAPH:(i + 1) * PARAGRAPH])
        merged, different = merged + len(m), different + len(d)
    return {"lines cut": sum(len(spans) > 1 for spans in alone), "merged": merged,
            "cut differently": different}


def entity_spans(predictions) -> list[list[tuple[int, int, str]]]:
    return [[(e.start, e.end, e.label) for e in p.entities] for p in predictions]


def on_lines_cut(sentences, alone, pre_tags, raw_spans) -> dict | None:
    """Pre-split against raw-sentence scores on the test lines that sentence splitting cut
    into several sentences (tagged whole pre-split, sentence by sentence raw), or None."""
    cut = [i for i, spans in enumerate(alone) if len(spans) > 1]
    if not cut:
        return None
    gold = [sentences[i].entities for i in cut]
    return {"pre": span_scores(gold, [sentences[i].spans_of(pre_tags[i]) for i in cut]),
            "raw": span_scores(gold, [raw_spans[i] for i in cut])}


def measure(tagger, dataset, language: str) -> dict:
    gold_tags, tokens = dataset["ner_tags"], dataset["tokens"]
    started = time.perf_counter()
    pre_tags = predict_dataset(tagger, dataset)
    pre_split = score_tags(gold_tags, pre_tags)["f1"]
    evaluate_seconds = time.perf_counter() - started

    sentences = [detokenise(t, g, language) for t, g in zip(tokens, gold_tags)]
    alone = [split_sentences(s.text, language) for s in sentences]
    raw_spans = entity_spans(predict(tagger, [s.text for s in sentences], language=language))
    raw_sentence = span_scores([s.entities for s in sentences], raw_spans)["f1"]
    paragraphs = [paragraph(sentences[i:i + PARAGRAPH], language)
                  for i in range(0, len(sentences), PARAGRAPH)]
    started = time.perf_counter()
    predicted = predict(tagger, [p.text for p in paragraphs], language=language)
    paragraph_seconds = time.perf_counter() - started
    raw_paragraph = span_scores([p.entities for p in paragraphs], entity_spans(predicted))["f1"]
    return {"pre": 100 * pre_split, "sentence": 100 * raw_sentence, "paragraph": 100 * raw_paragraph,
            "evaluate_seconds": evaluate_seconds, "paragraph_seconds": paragraph_seconds,
            "n": len(sentences), "on lines cut": on_lines_cut(sentences, alone, pre_tags, raw_spans),
            **segmentation_report(paragraphs, alone, language)}


def single_sentence_latency(tagger, repeats: int = 30) -> tuple[float, float]:
    """p50 seconds of predict() on one ~30-token sentence, and of tag_words on its words."""
    text = "Angela Merkel met Emmanuel Macron in Paris on Tuesday to discuss the future of the " \
           "European Union and NATO."
    words = [w.text for w in predict(tagger, text)[0].words]
    raw, split = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        predict(tagger, text)
        raw.append(time.perf_counter() - started)
        started = time.perf_counter()
        tag_words(tagger, [words])
        split.append(time.perf_counter() - started)
    return statistics.median(raw), statistics.median(split)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="PAN-X directory, e.g. ../shared/data/wikiann")
    parser.add_argument("--checkpoints", default="checkpoints/baseline,checkpoints/fusion-l11")
    parser.add_argument("--languages", default=LANGUAGES)
    parser.add_argument("--sentences", type=int, default=500, help="first N test sentences per language")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()

    print("Words: gold tokens inside entities given back by split_words (whole test sets)")
    for language in WORD_RATE_LANGUAGES.split(","):
        kept, total = word_rate(load_split(args.data, language, "test"), language)
        print(f"  {language}: {100 * kept / total:.2f} % of {total:,}")

    rows, evaluate_seconds, paragraph_seconds = [], 0.0, 0.0
    for directory in args.checkpoints.split(","):
        tagger = load_tagger(directory)
        raw_p50, split_p50 = single_sentence_latency(tagger)
        print(f"{tagger.config.model}: one sentence through predict {1000 * raw_p50:.1f} ms p50, "
              f"its words through tag_words {1000 * split_p50:.1f} ms ({raw_p50 / split_p50:.2f} ×)")
        for language in args.languages.split(","):
            dataset = load_split(args.data, language, "test", args.sentences)
            result = measure(tagger, dataset, language)
            evaluate_seconds += result["evaluate_seconds"]
            paragraph_seconds += result["paragraph_seconds"]
            rows.append((tagger.config.model, language, result))
            print(f"  {language}: pre-split {result['pre']:.1f}  raw sentence {result['sentence']:.1f}  "
                  f"raw paragraph {result['paragraph']:.1f}  ({result['n']} sentences; "
                  f"{result['lines cut']} cut into several, paragraphs: {result['merged']} ends merged, "
                  f"{result['cut differently']} cut differently)", flush=True)
            if result["on lines cut"]:
                pre, raw = result["on lines cut"]["pre"], result["on lines cut"]["raw"]
                print(f"      on the {result['lines cut']} lines cut: pre-split P/R "
                      f"{100 * pre['precision']:.1f}/{100 * pre['recall']:.1f} ({pre['predicted']} predicted), "
                      f"raw sentence {100 * raw['precision']:.1f}/{100 * raw['recall']:.1f} "
                      f"({raw['predicted']} predicted; {raw['gold']} gold)", flush=True)

    print(f"\nthroughput: raw paragraphs / evaluate on the same sentences = "
          f"{evaluate_seconds / paragraph_seconds:.2f} × (target ≥ 0.8)")
    misses = [(m, l, r) for m, l, r in rows
              if r["sentence"] < r["pre"] - 1.0 or r["paragraph"] < r["sentence"] - 1.0]
    print("targets met on every language" if not misses else
          "targets missed: " + ", ".join(f"{m} {l}" for m, l, _ in misses))
    if args.markdown:
        print("\n| language | model | pre-split F1 | raw sentence F1 | raw paragraph F1 |")
        print("|---|---|---|---|---|")
        for model, language, r in sorted(rows, key=lambda row: (row[1], row[0])):
            print(f"| {language} | {model} | {r['pre']:.1f} | {r['sentence']:.1f} | {r['paragraph']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
