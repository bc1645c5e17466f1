"""The Gradio app's tabs: one module per tab, each with its help text, its pure view functions
and a `build(...)` that lays the tab out and wires its events. `app.py` puts them together.
The computations they show live in `fusion` (which never imports gradio)."""
