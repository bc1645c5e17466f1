"""Everything the page's events call, made once per app: the slots, the Compare service, the
caches, the run records, the background work's priority and the asset folders."""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from serve.compare import CompareService
from serve.cache import BoundedCache
from serve.explanations import ExplanationCache
from serve.foreground import CancelFlags, Foreground
from serve.pairs import PairService
from serve.paths import EXAMPLES_FILE, PROBE_RUNS_DIR, PROBES_DIR, RUNS_DIR, SAMPLES_DIR
from serve.probes import GridCache, LazyProbes, attach_encoder_graph
from serve.runs import RunStore, read_results, warm_up
from serve.settings import QUEUE_SIZE, Settings
from serve.slots import TaggerSlot, attach_runtimes, reference_tagger, return_freed_memory


def load_examples(path: Path = EXAMPLES_FILE) -> list[dict]:
    """[{"language": code, "text": ...}], each optionally with its right answer: "gold", the
    entities as [[words, type], ...] in the order of the text, its "source" and "licence", and
    "disagree": true where the shipped models disagree on it (tests/test_lesson.py checks).
    A missing or malformed file gives no examples; a malformed answer is dropped (the example
    stays, its answer unknown)."""
    try:
        items = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(items, list):
        return []
    examples = []
    for item in items:
        if not (isinstance(item, dict) and isinstance(item.get("text"), str) and item["text"].strip()):
            continue
        item = dict(item)
        gold = item.get("gold")
        if not (isinstance(gold, list) and all(
                isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) and v.strip() for v in pair)
                for pair in gold)):
            item.pop("gold", None)
        examples.append(item)
    return examples


def pair_runtimes(settings: Settings):
    """How the Pairs tab's classifiers get the runtime Compare runs on: ONNX Runtime (graphs from
    the cache of earlier starts) unless the operator chose torch."""
    if settings.runtime != "onnx":
        return None

    def attach(slots):
        from fusion.model.onnx_cache import GraphCache

        attach_runtimes(slots, settings.threads, GraphCache())
    return attach


def probe_runtime(settings: Settings):
    """How the Layers probes' encoder gets the runtime Compare runs on (its own graph, from the
    cache of earlier starts or traced once), unless the operator chose torch."""
    if settings.runtime != "onnx":
        return None

    def attach(slot):
        from fusion.model.onnx_cache import GraphCache

        attach_encoder_graph(slot, GraphCache(), max(1, settings.threads))
    return attach


SHARED_VIEWS = 24  # as many as explanations are kept (serve/explanations.py), a few MB each at most


@dataclass
class Services:
    slots: dict[str, TaggerSlot]
    compare: CompareService
    runs: RunStore
    settings: Settings = field(default_factory=Settings)
    examples: list[dict] = field(default_factory=list)
    data_dir: str | None = None  # PAN-X data: the Errors tab's test sentences in full
    samples_dir: Path = SAMPLES_DIR  # ... else the shipped sample
    probe_runs_dir: Path = PROBE_RUNS_DIR
    cancel_flags: CancelFlags = field(default_factory=CancelFlags)
    explanations: ExplanationCache = field(default_factory=ExplanationCache)
    # Inside's figures per explained sentence, layer and head: under a class, building them (plotly,
    # under the GIL) was nearly all of Inside's time (docs/PERFORMANCE.md, bench/load.py --mix)
    inside_figures: BoundedCache = field(default_factory=lambda: BoundedCache(SHARED_VIEWS))
    layers_views: BoundedCache = field(default_factory=lambda: BoundedCache(SHARED_VIEWS))  # the same, for Layers
    probes: LazyProbes = field(default_factory=LazyProbes)
    grids: GridCache = field(default_factory=GridCache)
    pairs: PairService = field(default_factory=PairService)  # the Pairs tab's classifiers, loaded when first asked

    @classmethod
    def create(cls, slots: dict[str, TaggerSlot], runs_dir=RUNS_DIR, examples: list[dict] | None = None,
               data_dir=None, samples_dir=SAMPLES_DIR, probes_dir=PROBES_DIR, probe_runs_dir=PROBE_RUNS_DIR,
               settings: Settings | None = None, warm_up_now: bool = True) -> Services:
        """The services of an app on these slots. The Results tab's bootstrap starts in the
        background (`warm_up_results`), unless `warm_up_now` is False: the app starts it once the
        runtimes are attached."""
        settings = settings or Settings()
        compare = CompareService(slots, Foreground(), max_batch=settings.compare_batch, max_waiting=QUEUE_SIZE)
        runs = RunStore(runs_dir, read_results(runs_dir)[0])
        services = cls(slots, compare, runs, settings, load_examples() if examples is None else examples,
                       data_dir, Path(samples_dir), Path(probe_runs_dir), probes=LazyProbes(probes_dir, probe_runtime(settings)),
                       pairs=PairService(attach=pair_runtimes(settings)))
        if warm_up_now:
            services.warm_up_results()
        return services

    def warm_up_results(self, after: threading.Thread | None = None) -> threading.Thread:
        """The Results tab's default bootstrap, computed in a background thread so that its first
        visitor does not wait for it (seconds for full test sets): after `after` has ended (the
        app passes the runtimes' attach, which a first Compare needs more: on 2 cores the two
        compete), stepping aside while anyone compares (up to 5 s per language). The memory it
        used (up to ~260 MB at its peak, measured) then goes back to the system."""
        def run():
            if after is not None:
                after.join()
            started = time.perf_counter()
            warm_up(self.runs.folder, self.runs.records, self.loaded_fusion,
                    between=lambda: self.foreground.wait_until_quiet(limit=5.0)).join()
            return_freed_memory()
            print(f"results: the default view's bootstrap is ready ({time.perf_counter() - started:.1f} s)",
                  file=sys.stderr)

        thread = threading.Thread(target=run, name="results-warm-up", daemon=True)
        thread.start()
        return thread

    @property
    def foreground(self) -> Foreground:
        return self.compare.foreground

    @property
    def shape(self) -> tuple[int, int]:
        """(layers, heads) of the encoder both taggers read (12 × 12 when none is loaded)."""
        reference = reference_tagger(self.slots)
        return (reference.n_layers, reference.n_heads) if reference is not None else (12, 12)

    @property
    def loaded_fusion(self) -> str | None:
        """The loaded fusion model's name as run records write it, or None."""
        fusion = self.slots.get("fusion")
        return fusion.model if fusion is not None and fusion.ready else None

    @property
    def fusion_layer(self) -> int | None:
        return self.slots["fusion"].tagger.config.fusion_layer if self.loaded_fusion else None
