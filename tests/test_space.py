"""Hosting on Hugging Face Spaces: the Python it runs fits every pinned package, and the publish
command sends the app without the tests and local work."""

import importlib.metadata
import importlib.util
import re
from pathlib import Path

from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]


def _front_matter() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("---\n")[1]
    return {key.strip(): value.strip().strip('"') for key, _, value in
            (line.partition(":") for line in block.splitlines() if ":" in line)}


def test_every_pinned_requirement_admits_the_spaces_python():
    python = _front_matter()["python_version"]
    assert re.fullmatch(r"3\.\d+", python)
    pins = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    refused = []
    for name, version in (pin.split("==") for pin in pins if "==" in pin):
        metadata = importlib.metadata.metadata(name)
        installed = metadata["Version"].split("+")[0]  # torch's local tag: 2.13.0+cpu
        assert installed == version, f"{name}: {installed} installed, {version} pinned"
        required = metadata.get("Requires-Python")
        if required and not SpecifierSet(required).contains(f"{python}.0"):
            refused.append(f"{name} {version} requires Python {required}")
    assert not refused, refused


def test_the_space_gets_the_app_and_not_the_tests():
    spec = importlib.util.spec_from_file_location("publish_space", ROOT / "scripts" / "publish_space.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    paths = ["app.py", "README.md", "requirements.txt", "fusion/model/modeling.py", "ui/compare_tab.py",
             "checkpoints/fusion-l11/model.safetensors", "checkpoints/fusion-l11/resume/state.json",
             "assets/runs/baseline-s13.predictions.json.gz", "tests/test_app.py", "bench/load.py",
             "scripts/results_table.py", "work_runs/x/model.safetensors", "scratch/a.png",
             "fusion/__pycache__/modeling.cpython-311.pyc", ".ci/run", ".gitignore", "docs/METHOD.md"]
    assert module.space_files(paths) == [
        "app.py", "README.md", "requirements.txt", "fusion/model/modeling.py", "ui/compare_tab.py",
        "checkpoints/fusion-l11/model.safetensors", "assets/runs/baseline-s13.predictions.json.gz",
        "docs/METHOD.md"]
