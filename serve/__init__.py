"""The app's server side, without gradio: the two tagger slots and their runtimes, the Compare
service (its batcher, the foreground priority, one view per compared text), the caches behind
Inside and Layers, the run records, every asset path and the operator's settings.

`ui/` draws the page from these; `fusion` computes. Nothing here imports gradio or `ui`
(tests/test_architecture.py checks it)."""
