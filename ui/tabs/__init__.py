"""The tabs, one module each. A tab's constructor lays it out and registers with the page what
it shares (`ui/page.py`); its `wire(page)` connects its own events and names its own endpoints.
Tabs never import one another (tests/test_architecture.py checks it)."""
