"""Publish this app as a Hugging Face Space (online; log in first with `hf auth login` or set
HF_TOKEN).

    python scripts/publish_space.py USER/SPACE_NAME [--private]

`HfApi.upload_folder` stores the checkpoints (.safetensors), run predictions (.gz) and images
the way the Hub requires for binary files (a plain `git push` of them is refused). Tests,
benches, scripts and local work folders stay home (SPACE_IGNORE). The README's front matter
tells Spaces how to run it: Gradio SDK, `app.py`, Python 3.11.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# fnmatch patterns on paths relative to the repository ("*" also crosses "/")
SPACE_IGNORE = ["tests/*", "bench/*", "scripts/*", ".ci/*", "work_runs/*", "scratch/*", ".carry*",
                "*__pycache__*", "*.pyc", ".pytest_cache/*", "checkpoints/*/resume/*", ".git*"]


def space_files(paths: list[str]) -> list[str]:
    """The paths (relative, "/"-separated) that go to the Space, in the order given."""
    from huggingface_hub.utils import filter_repo_objects

    return list(filter_repo_objects(paths, ignore_patterns=SPACE_IGNORE))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("space", help="USER/SPACE_NAME on huggingface.co")
    parser.add_argument("--private", action="store_true", help="create the Space as private")
    args = parser.parse_args()
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(args.space, repo_type="space", space_sdk="gradio", private=args.private,
                    exist_ok=True)
    commit = api.upload_folder(repo_id=args.space, repo_type="space", folder_path=ROOT,
                               ignore_patterns=SPACE_IGNORE, commit_message="Publish Layer Fusion Explorer")
    print(f"published: {commit.commit_url}\nthe Space: https://huggingface.co/spaces/{args.space}")


if __name__ == "__main__":
    main()
