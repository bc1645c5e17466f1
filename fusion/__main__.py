"""`python -m fusion predict|train|intermediate|evaluate|evaluate-pos|probe|train-pairs|evaluate-pairs`: flags are built from the option dataclasses."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
import typing


def _flag_type(annotation):
    """int | None -> int; plain types stay."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


def _add_options(parser: argparse.ArgumentParser, options_class) -> None:
    """One flag per dataclass field, its --help from the field's metadata["help"]."""
    hints = typing.get_type_hints(options_class)
    for field in dataclasses.fields(options_class):
        kind = _flag_type(hints[field.name])
        flag = "--" + field.name.replace("_", "-")
        required = field.default is dataclasses.MISSING
        settings = dict(dest=field.name, required=required, help=field.metadata["help"],
                        default=None if required else field.default)
        if kind is bool:  # type=bool would read any non-empty string, "False" included, as True
            settings["action"] = argparse.BooleanOptionalAction
        else:
            settings["type"] = kind
        parser.add_argument(flag, **settings)


def accuracy_line(what: str, record: dict) -> str:
    """What an accuracy run found, in a line: the target languages' average, or that none was scored."""
    targets = [language for language in record["scores"] if language != record.get("source_language")]
    if record.get("average_accuracy_targets") is None:
        return f"{what}: no target language scored ({len(record['scores'])} scored)"
    plural = "" if len(targets) == 1 else "s"
    return f"{what}, target average {100 * record['average_accuracy_targets']:.2f} over {len(targets)} target language{plural}"


def main(argv: list[str] | None = None) -> int:
    from fusion.evaluation.evaluate import EvaluateOptions
    from fusion.evaluation.pairs import PairEvaluateOptions
    from fusion.evaluation.pos import PosEvaluateOptions
    from fusion.probing.probe_runs import ProbeStudyOptions
    from fusion.training.intermediate import IntermediateOptions
    from fusion.training.pairs import PairTrainOptions
    from fusion.training.train import TrainOptions

    parser = argparse.ArgumentParser(prog="python -m fusion", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    predict_parser = commands.add_parser("predict", help="tag text with a checkpoint")
    predict_parser.add_argument("--checkpoint", required=True, help="checkpoint directory")
    predict_parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    predict_parser.add_argument("--explain", action="store_true",
                                help="with --json: include attentions and gates")
    predict_parser.add_argument("--trust-unverified", action="store_true",
                                help="load a checkpoint saved without a fingerprint (older versions)")
    predict_parser.add_argument("texts", nargs="+", help="texts to tag")

    train_parser = commands.add_parser("train", help="fine-tune on the source language")
    _add_options(train_parser, TrainOptions)
    intermediate_parser = commands.add_parser(
        "intermediate", help="train adapters on an English intermediate task (then train --start-from)")
    _add_options(intermediate_parser, IntermediateOptions)
    evaluate_parser = commands.add_parser("evaluate", help="zero-shot evaluation -> run record")
    _add_options(evaluate_parser, EvaluateOptions)
    pos_parser = commands.add_parser("evaluate-pos", help="zero-shot UPOS accuracy of a POS tagger")
    _add_options(pos_parser, PosEvaluateOptions)
    probe_parser = commands.add_parser(
        "probe", help="per-layer linear probes on the frozen encoder (or, with --tagger, a tagger's tuned "
                      "encoder) -> layer-probe run records")
    _add_options(probe_parser, ProbeStudyOptions)
    pair_train_parser = commands.add_parser(
        "train-pairs", help="fine-tune a sentence-pair classifier (XNLI, PAWS-X) on English")
    _add_options(pair_train_parser, PairTrainOptions)
    pair_parser = commands.add_parser("evaluate-pairs", help="zero-shot accuracy of a pair classifier")
    _add_options(pair_parser, PairEvaluateOptions)

    args = vars(parser.parse_args(argv))
    command = args.pop("command")
    try:
        return run_command(command, args)
    except (ValueError, OSError) as error:
        # A user's error (a broken checkpoint or data file, a wrong option): every error class of
        # the library is a ValueError, and a missing or unreadable file an OSError. One line, no
        # traceback; a bug (any other exception) still shows its traceback.
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped (training resumes from its last resume point when run again)", file=sys.stderr)
        return 130


def run_command(command: str, args: dict) -> int:
    """Run one parsed command; returns the exit status."""
    from fusion.evaluation.evaluate import EvaluateOptions
    from fusion.evaluation.pos import PosEvaluateOptions
    from fusion.probing.probe_runs import ProbeStudyOptions
    from fusion.training.intermediate import IntermediateOptions
    from fusion.training.train import TrainOptions

    if command == "predict":
        from fusion.model.checkpoint import load_tagger
        from fusion.tagging.predict import predict

        tagger = load_tagger(args["checkpoint"], trust_unverified=args["trust_unverified"])
        if not tagger.verified:
            print("warning: this checkpoint has no fingerprint; loaded on trust", file=sys.stderr)
        results = predict(tagger, args["texts"], explain=args["explain"])
        if args["json"]:
            print(json.dumps([dataclasses.asdict(r) for r in results], ensure_ascii=False, indent=1,
                             default=lambda array: array.round(4).tolist()))
        else:
            for result in results:
                entities = ", ".join(f"{e.text} [{e.label} {e.score:.2f}]" for e in result.entities)
                print(f"{result.text}\n  -> {entities or '(no entities)'}")
        return 0
    if command == "train":
        from fusion.training.train import train

        summary = train(TrainOptions(**args))
        print(json.dumps(summary, indent=1))
        return 0
    if command == "intermediate":
        from fusion.training.intermediate import train_intermediate

        info = train_intermediate(IntermediateOptions(**args))
        print(f"{info['task']}: {info['examples']} examples, dev {info['dev_metric']} "
              f"{100 * info['dev_score']:.2f} -> {args['output_dir']}")
        return 0
    if command == "probe":
        from fusion.probing.probe_runs import run_probe_study

        records = run_probe_study(ProbeStudyOptions(**args))
        print(f"{len(records)} probe runs -> {args['runs_dir']}")
        return 0
    if command == "train-pairs":
        from fusion.training.pairs import PairTrainOptions, train_pairs

        print(json.dumps(train_pairs(PairTrainOptions(**args)), indent=1))
        return 0
    if command == "evaluate-pairs":
        from fusion.evaluation.pairs import PairEvaluateOptions, evaluate_pairs

        record = evaluate_pairs(PairEvaluateOptions(**args))
        print(accuracy_line(f"{record['task']} accuracy", record) + (f" -> {args['output']}" if args["output"] else ""))
        return 0
    if command == "evaluate-pos":
        from fusion.evaluation.pos import evaluate_pos

        record = evaluate_pos(PosEvaluateOptions(**args))
        print(accuracy_line("UPOS accuracy", record) + (f" -> {args['output']}" if args["output"] else ""))
        return 0
    from fusion.evaluation.evaluate import run_evaluation

    record = run_evaluation(EvaluateOptions(**args))
    print(f"average F1 {100 * record['average_f1']:.2f} over {len(record['scores'])} languages"
          + (f" -> {args['output']}" if args["output"] else ""))
    if not args["output"]:
        print(json.dumps(record, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
