"""Write each chapter of the book, with the outputs from its execution cache, as an .ipynb for nbval.

The outputs come from jupyter-cache (``_build/.jupyter_cache``), not from
``_build/jupyter_execute``, where myst-nb strips glue outputs. A chapter with no matching cache
entry (never executed, or edited since) is an error: nothing is skipped silently.

Usage: python tools/export_executed.py --out _build/nbval
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml
from jupyter_cache import get_cache

ROOT = Path(__file__).resolve().parent.parent


def toc_files(toc: Path) -> list[str]:
    """All ``file:`` entries of a jb-book table of contents, root first."""
    data = yaml.safe_load(toc.read_text())
    files = [data["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data.get("parts", data.get("chapters", [])))
    return files


def is_notebook(path: Path) -> bool:
    text = path.read_text()
    return text.startswith("---") and "kernelspec:" in text.split("---", 2)[1] and "{code-cell}" in text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the executed .ipynb files")
    parser.add_argument("--cache", type=Path, default=ROOT / "_build" / ".jupyter_cache")
    args = parser.parse_args()
    if not args.cache.is_dir():
        print(f"error: no execution cache at {args.cache}; run `make book` (or build-strict) first", file=sys.stderr)
        return 2
    cache = get_cache(args.cache)
    args.out.mkdir(parents=True, exist_ok=True)
    for stale in args.out.glob("*.ipynb"):
        stale.unlink()
    missing = []
    for entry in toc_files(ROOT / "_toc.yml"):
        source = ROOT / f"{entry}.md"
        if not source.exists() or not is_notebook(source):
            continue
        nb = jupytext.read(source)
        try:
            _, merged = cache.merge_match_into_notebook(nb)
        except KeyError:
            missing.append(entry)
            continue
        target = args.out / f"{Path(entry).name}.ipynb"
        nbformat.write(merged, target)
        print(f"exported {entry} -> {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    if missing:
        print(f"error: no cached execution for {', '.join(missing)}; rebuild the book first", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
