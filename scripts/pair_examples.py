"""Write assets/pair_examples.json: the Pairs tab's examples, copied verbatim from the XNLI and
PAWS-X dev sets (XTREME's files), with their gold labels so a teacher can reveal the right answer.

XNLI 1.0 (Conneau et al. 2018, facebookresearch/XNLI): CC BY-NC 4.0. PAWS-X (Yang et al. 2019,
google-research-datasets/paws): "may be freely used for any purpose" (Google LLC as the source).
The same row is taken in every language, so the examples are translations of one another.
Usage: python scripts/pair_examples.py DATA_DIR   (DATA_DIR holds xnli/ and pawsx/)"""

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fusion.data.pairs import read_pairs  # noqa: E402
from fusion.model.modeling import PAIR_TASKS  # noqa: E402

XNLI_ROWS = (2, 6, 8)  # short pairs, one of each label (entailment, contradiction, neutral)
XNLI_LANGUAGES = ("en", "de", "ar", "zh", "hi", "ru", "sw")
PAWSX_ROWS = (1, 4)  # a paraphrase and a non-paraphrase
PAWSX_LANGUAGES = ("en", "de", "ja", "ko")
SOURCES = {"xnli": ("XNLI 1.0 dev (XTREME's dev-<lang>.tsv)", "CC BY-NC 4.0"),
           "pawsx": ("PAWS-X dev (XTREME's dev-<lang>.tsv)", "free for any purpose, source Google LLC")}


def main(data: str) -> None:
    examples = []
    for task, rows, languages in (("xnli", XNLI_ROWS, XNLI_LANGUAGES), ("pawsx", PAWSX_ROWS, PAWSX_LANGUAGES)):
        for language in languages:
            pairs = read_pairs(data, task, language, "dev")
            for row in rows:
                pair = pairs[row]
                examples.append({"task": task, "language": language, "row": row, "first": pair.first,
                                 "second": pair.second, "label": PAIR_TASKS[task][pair.label],
                                 "source": SOURCES[task][0], "licence": SOURCES[task][1]})
    path = REPO / "assets" / "pair_examples.json"
    path.write_text(json.dumps(examples, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(examples)} examples -> {path}")


if __name__ == "__main__":
    main(sys.argv[1])
