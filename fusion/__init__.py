"""Layer Fusion Explorer's library: baseline and fusion (DLFA / AIF) token taggers for zero-shot
cross-lingual NER. Layers, each a package, import downward only
(docs/ARCHITECTURE.md; tests/test_architecture.py checks it):

- `text`        segmentation (raw text -> sentences, words), languages
- `model`       encoders, the tagger and its AIF module, checkpoints, packing, ONNX Runtime
- `data`        PAN-X / UD-POS / intermediate-task readers, uploads, sub-word label alignment
- `tagging`     predict (text -> entities, attentions, gates), batching, budgets, agreement
- `evaluation`  zero-shot scoring -> run records (one format), per-sentence sidecars, error analysis
- `training`    fine-tuning (one loop), intermediate tasks
- `probing`     per-layer linear probes, probe runs, where an entity emerges
- `studies`     summaries of stored runs: seeds, sweeps, intermediate tasks, POS, probes (no torch)

Importing the package loads nothing; models are built only when asked for.
"""
