"""Errors: the stored runs' test sentences where the two models differ (the browser itself is
ui/error_browser.py, shared with Evaluate)."""

from __future__ import annotations

from typing import NamedTuple

import gradio as gr

from fusion.evaluation.error_analysis import stored_views
from fusion.studies.results import fusion_models, group_by_key, group_records, groups
from ui.common import Parts, group_options, natural_key, safe
from ui.error_browser import ErrorBrowser


class ErrorChoices(NamedTuple):
    """The seeds and languages a group of runs offers, and those picked."""

    seeds: list
    seed: object
    languages: list[str]
    language: str | None


def language_choices(records: list[dict], group_key: str | None) -> list[str]:
    group = group_by_key(records, group_key)
    chosen = group_records(records, group) if group else []
    return sorted({lang for r in chosen for lang in r["scores"]}, key=natural_key)


def seed_choices(records: list[dict], group_key: str | None) -> list:
    group = group_by_key(records, group_key)
    chosen = group_records(records, group) if group else []
    return sorted({r.get("seed") for r in chosen if r.get("seed") is not None})


def error_choices(records: list[dict], group_key: str | None, seed=None, language=None) -> ErrorChoices:
    """The choices of the group `group_key`: the seed and language picked stay when the group has
    them, else its first seed, and German (when it has it)."""
    seeds, languages = seed_choices(records, group_key), language_choices(records, group_key)
    return ErrorChoices(seeds, seed if seed in seeds else (seeds[0] if seeds else None), languages,
                        language if language in languages else ("de" if "de" in languages else None))


def stored_error_views(records, runs_dir, group_key, language, seed, data_dir, sample_dir):
    group = group_by_key(records, group_key)
    if group is None or not language:
        return [], "Pick runs and a language."
    models = fusion_models(records, group)
    if not models:
        return [], "This group has no fusion runs."
    return stored_views(group_records(records, group), runs_dir, language, seed, models[0], data_dir,
                        sample_dir)


class ErrorsTab:
    def __init__(self, page, tab: gr.Tab):
        self.services = page.services
        records = self.services.runs.records
        found = groups(records)
        group_key = found[0].key if found else None
        choices = error_choices(records, group_key)
        self.parts = Parts()
        with gr.Row():
            # wide, and the label's start tells the groups apart (`group_label`)
            self.parts["group"] = gr.Dropdown(group_options(found), value=group_key, label="Runs", scale=3,
                                              min_width=300)
            self.parts["seed"] = gr.Dropdown(choices.seeds, value=choices.seed, label="Seed")
            self.parts["language"] = gr.Dropdown(choices.languages, value=choices.language, label="Language")
        self.browser = ErrorBrowser(page.colours, list(page.colours), "errors")

    def on_errors(self, group_key, seed, language, kinds, types) -> dict:
        services = self.services
        views, note = stored_error_views(services.runs.records, services.runs.folder, group_key, language, seed,
                                         services.data_dir, services.samples_dir)
        return self.browser.show(views, note, kinds, types)

    def on_group(self, group_key, seed, language) -> dict:
        """A group's own seeds and languages (each group was run on its own)."""
        choices = error_choices(self.services.runs.records, group_key, seed, language)
        return {self.parts["seed"]: gr.Dropdown(choices=choices.seeds, value=choices.seed),
                self.parts["language"]: gr.Dropdown(choices=choices.languages, value=choices.language)}

    def wire(self, page) -> None:
        parts, browser = self.parts, self.browser.parts
        inputs = parts.pick("group", "seed", "language") + browser.pick("kinds", "types")
        on_errors = safe(self.on_errors, self.browser.failed)
        gr.on([page.blocks.load, parts["seed"].input, parts["language"].input], on_errors, inputs,
              self.browser.outputs, api_name="errors")
        parts["group"].input(safe(self.on_group, lambda message: gr.skip()), parts.pick("group", "seed", "language"),
                             parts.pick("seed", "language"), api_visibility="private",
                             ).then(on_errors, inputs, self.browser.outputs, api_visibility="private")
        self.browser.wire(page)
