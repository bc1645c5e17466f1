"""The Gradio page. `ui/page.py` puts it together: the header (`header.py`, with `tour.py`), the
tabs (`tabs/`, one module each), and the small Page object through which they share the compared
text, the open tab and the link (`link.py`). Shared widgets and helpers: `error_browser.py`,
`common.py`; every CSS and JS string: `markup.py`; figures and downloads: `plots.py`, `export.py`.
What the events call is `serve/` (never gradio); the computations are `fusion`."""
