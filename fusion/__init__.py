"""Layer Fusion Explorer's library: baseline and fusion (DLFA / AIF) token taggers for zero-shot
cross-lingual NER. Public entry points:

- `fusion.encoders.build_encoder(name)`            encoder + tokenizer (offline e5 by default)
- `fusion.modeling.TaggerConfig`, `TokenTagger`    the model
- `fusion.checkpoint.save_tagger`, `load_tagger`   checkpoint directories
- `fusion.predict.predict(tagger, texts)`           sentences, words, entities (+ attentions, gates)
- `fusion.segmentation.split_sentences`, `split_words`  raw text as the training data splits it
- `fusion.train.train(TrainOptions(...))`           fine-tuning
- `fusion.intermediate.train_intermediate(...)`     an English intermediate task before NER
- `fusion.intermediate_results.task_effects`        Δ F1 of each intermediate task
- `fusion.evaluate.run_evaluation(EvaluateOptions(...))`  zero-shot run records
- `fusion.runs.load_runs`, `runs_dataframe`         stored runs
- `fusion.results`, `fusion.bootstrap`              comparisons of runs, 95 % intervals of Δ F1
- `fusion.compare.compare_entities(text, ...)`      how two models' entities agree
- `fusion.errors.entity_errors(gold, predicted)`    missed / wrong type / wrong boundary / spurious

Importing the package loads nothing; models are built only when asked for.
"""
