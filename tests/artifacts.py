"""Figures tests measure, kept as JSON under test-artifacts/ (git-ignored) for the docs."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings


def merge_artifact(name: str, update: Callable[[dict[str, Any]], None]) -> None:
    """Read test-artifacts/<name> (a JSON object, empty if new), let `update` change it in
    place, and write it back: each test updates only its own part of a shared file."""
    path = Path(settings.BASE_DIR) / "test-artifacts" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.exists() else {}
    update(data)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def record_figures(name: str, section: str, figures: dict[str, Any]) -> None:
    """Store `figures` as `section` of test-artifacts/<name>, and print them."""
    merge_artifact(name, lambda data: data.__setitem__(section, figures))
    print(f"\n{section}: {figures}")
