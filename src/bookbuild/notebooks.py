"""Readers' copies of the executed chapters: downloadable notebooks and "Open in Colab" links.

After a successful HTML build, each executed chapter's notebook is copied from the execution
store into ``<site>/_notebooks/<docname>.ipynb`` with its outputs, as a notebook a reader can read
and run anywhere (Jupyter, Colab), without MyST:

- its Markdown is plain Markdown (:func:`plain_markdown`): every glued value is replaced by the
  text the page shows (the same stored output, formatted by myst-nb's own function), citations
  read "(Author, year)" with a reference list at the end, glossary terms are plain text (links to
  the site when ``html_baseurl`` is set), figure references read "Fig. 1.3", exercises are
  headings and solutions ``<details>`` blocks, labels are gone. A role or directive it does not
  know is an error, never left in the text;
- one extra first cell installs the book's library when it is not importable (a fresh Colab
  runtime) and does nothing where it is (the book's own build, a reader's checkout). It installs
  from ``git+https://github.com/<repository>@<commit>``; when the build knows no repository, it
  says so and how to install from a checkout instead of pointing at this machine's disk.

Where the page links to Colab: Colab opens notebooks from a GitHub path, and the publish workflow
pushes ``_notebooks/`` as the root of the ``notebooks`` branch, so
``colab.research.google.com/github/<repository>/blob/notebooks/<docname>.ipynb``.

Configuration (``_config.yml``, ``sphinx: config:``): ``bookbuild_install_package`` (the import
name to look for), ``bookbuild_install_requirement`` (a pip requirement template with
``{source}``), ``bookbuild_notebooks_branch``. The repository (``owner/name``) comes from
``$BOOK_REPOSITORY``, else ``$GITHUB_REPOSITORY`` (set on every GitHub Actions runner), else
``repository`` in ``[tool.bookbuild]``; the commit from ``$BOOK_COMMIT``, ``$GITHUB_SHA`` or
``git rev-parse HEAD``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import subprocess
import tomllib
from ast import literal_eval
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from bookbuild.util import atomic_write

FOLDER = "_notebooks"
GLUE_PREFIX = "application/papermill.record/"
REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$")


class ExportError(ValueError):
    """A chapter's Markdown holds something the plain-Markdown export cannot render; says what and where."""


# --- where the library comes from ------------------------------------------------------------


def repository(root: Path | None = None) -> str | None:
    """``owner/name`` of the GitHub repository the site is published from, if the build knows it.

    ``$BOOK_REPOSITORY``, else ``$GITHUB_REPOSITORY`` (GitHub Actions), else ``repository`` in
    ``root/pyproject.toml``'s ``[tool.bookbuild]``. A value that is not ``owner/name`` is an error.
    """
    repo, where = "", ""
    for name in ("BOOK_REPOSITORY", "GITHUB_REPOSITORY"):
        if os.environ.get(name, "").strip():
            repo, where = os.environ[name].strip(), f"${name}"
            break
    if not repo and root is not None and (Path(root) / "pyproject.toml").exists():
        table = tomllib.loads((Path(root) / "pyproject.toml").read_text()).get("tool", {}).get("bookbuild", {})
        value = table.get("repository", "")
        if not isinstance(value, str):
            raise ValueError(f'[tool.bookbuild] repository must be a string "owner/name", got {value!r}')
        repo, where = value.strip(), "[tool.bookbuild] repository"
    if not repo:
        return None
    if not REPOSITORY.match(repo):
        raise ValueError(f"{where} is {repo!r}; it must be a GitHub repository as owner/name, e.g. course/book")
    return repo


def commit(root: Path) -> str | None:
    """The commit the pages are built from (``$BOOK_COMMIT``, ``$GITHUB_SHA``, else the checkout's HEAD)."""
    for name in ("BOOK_COMMIT", "GITHUB_SHA"):
        if os.environ.get(name, "").strip():
            return os.environ[name].strip()
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def install_source(root: Path) -> str | None:
    """``git+https://github.com/<repo>@<sha>`` when the build knows both; else None (install from a checkout)."""
    repo, sha = repository(root), commit(root)
    if repo and sha:
        return f"git+https://github.com/{repo}@{sha}"
    return None


def install_cell(package: str, requirement: str | None) -> nbformat.NotebookNode:
    """The first cell of a reader's notebook: install ``requirement`` unless ``package`` imports.

    With no requirement (the build knew no repository) the cell installs nothing: where the
    package is missing it stops with the instructions for installing it from a checkout.
    """
    head = "import importlib.util, subprocess, sys\n"
    if requirement:
        source = (
            f"# Running this notebook outside the book (Colab, a fresh environment)? This cell installs\n"
            f"# the course library `{package}` at the commit this page was built from. Where it is already\n"
            f"# importable (your checkout of the book) it does nothing.\n"
            + head
            + f"if importlib.util.find_spec({package!r}) is None:\n"
            f'    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", {requirement!r}])'
        )
    else:
        source = (
            f"# This notebook needs the course library `{package}`. The copy you have was built without a\n"
            f"# known GitHub repository, so it cannot install the library by itself: get the book's source\n"
            f"# (the repository the site came from), run `pip install -e .` in it, and open this notebook\n"
            f"# with that Python. Where `{package}` is importable this cell does nothing.\n"
            + head
            + f"if importlib.util.find_spec({package!r}) is None:\n"
            f"    raise ModuleNotFoundError(\n"
            f'        "{package} is not installed: run `pip install -e .` in a checkout of the book\'s repository, "\n'
            f'        "then restart this notebook"\n'
            f"    )"
        )
    return nbformat.v4.new_code_cell(source, metadata={"tags": ["remove-cell"]})


def colab_url(repo: str, branch: str, docname: str) -> str:
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/{docname}.ipynb"


def branch_path(url: str) -> tuple[str, str, str]:
    """(repository, branch, path in the branch) of a Colab GitHub URL made by :func:`colab_url`."""
    m = re.fullmatch(r"https://colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/blob/([\w.-]+)/(.+\.ipynb)", url)
    if not m:
        raise ValueError(f"not a Colab GitHub URL: {url}")
    return m.group(1), m.group(2), m.group(3)


# --- MyST to plain Markdown ----------------------------------------------------------------------


@dataclass
class Citation:
    """What a reader's notebook prints for one bibliography entry."""

    authors: str  # "LeCun", "Chen and He", "Bengio et al."
    year: str
    entry: str  # the full reference, Markdown


@dataclass
class References:
    """What the page resolves roles to: numbers, titles, citations (filled from the Sphinx environment)."""

    figures: dict[str, str] = field(default_factory=dict)  # label -> "1.3"
    exercises: dict[str, str] = field(default_factory=dict)  # label -> "3"
    section_numbers: dict[str, str] = field(default_factory=dict)  # label -> "4.2"
    sections: dict[str, tuple[str, str]] = field(default_factory=dict)  # label -> (title, page url or "")
    citations: dict[str, Citation] = field(default_factory=dict)
    terms: dict[str, str] = field(default_factory=dict)  # lower-case term -> url ("" = plain text)
    numfig_format: dict[str, str] = field(default_factory=lambda: {"figure": "Fig. %s"})
    cited: list[str] = field(default_factory=list)  # citation keys in order of first use


def format_glue(text: str, spec: str) -> str:
    """myst-nb's ``{glue:text}`key:spec``` formatting of a stored ``text/plain`` value (the same rules)."""
    try:
        from myst_nb.core.variables import format_plain_text
    except ImportError:  # the same rules, for a machine without myst-nb
        try:
            value = literal_eval(text)
        except (SyntaxError, ValueError):
            value = text
        if spec == "":
            return str(value)
        kind = spec[-1]
        value = (
            str(value)
            if kind == "s"
            else int(value)
            if kind in "bcdoxX"
            else float(value)
            if kind in "eEfFgGn%"
            else value
        )
        return format(value, spec)
    return format_plain_text(text, spec)


def glue_values(nb: nbformat.NotebookNode) -> dict[str, str]:
    """``{key: text/plain}`` of every value the notebook's cells glued (myst-nb's scrapbook outputs)."""
    values = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if not name:
                continue
            data = out.get("data", {})
            text = data.get(GLUE_PREFIX + "text/plain", data.get("text/plain"))
            if text is not None:
                values[name] = "".join(text) if isinstance(text, list) else text
    return values


ROLE = re.compile(r"\{([a-zA-Z][\w:-]*)\}(`+)(.*?)\2", re.S)
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>.*)$")
LABEL = re.compile(r"^\s*\([\w:.-]+\)=\s*$")
EXPLICIT = re.compile(r"^(.*?)\s*<([^<>]+)>$", re.S)


def _explicit(content: str) -> tuple[str | None, str]:
    """``text <target>`` -> (text, target); ``target`` -> (None, target)."""
    m = EXPLICIT.match(content.strip())
    return (m.group(1), m.group(2).strip()) if m else (None, content.strip())


def _link(text: str, url: str) -> str:
    return f"[{text}]({url})" if url else text


class Converter:
    """Turns one chapter's MyST Markdown cells into plain Markdown; records the glued values it printed."""

    def __init__(self, docname: str, glue: dict[str, str], refs: References) -> None:
        self.docname = docname
        self.glue = glue
        self.refs = refs
        self.shown: list[list[str]] = []  # [key, spec, text] per glue role, in order

    def fail(self, what: str) -> ExportError:
        return ExportError(
            f"{self.docname}: {what}; the readers' notebook export (bookbuild.notebooks) renders only "
            "the roles and directives it knows, so that no MyST syntax reaches a reader. Add it to "
            "bookbuild.notebooks.Converter, or write the text without it."
        )

    # roles
    def role(self, name: str, content: str) -> str:
        handler: Callable[[str], str] | None = {
            "glue:text": self.glue_text,
            "glue": self.glue_text,
            "cite:p": lambda c: self.cite(c, parenthetical=True),
            "cite": lambda c: self.cite(c, parenthetical=True),
            "cite:t": lambda c: self.cite(c, parenthetical=False),
            "term": self.term,
            "numref": self.numref,
            "ref": self.ref,
            "doc": self.doc,
            "math": lambda c: f"${c}$",
            "sub": lambda c: f"<sub>{c}</sub>",
            "sup": lambda c: f"<sup>{c}</sup>",
            "kbd": lambda c: f"<kbd>{c}</kbd>",
        }.get(name)
        if handler is None and name.startswith("py:"):
            handler = lambda c: self.python(name[3:], c)
        if handler is None:
            raise self.fail(f"unknown role {{{name}}}`{content}`")
        return handler(content)

    def glue_text(self, content: str) -> str:
        key, spec = content.rsplit(":", 1) if ":" in content else (content, "")
        if "::" in key:
            raise self.fail(f"a glue role from another page ({content})")
        if key not in self.glue:
            raise self.fail(f"no glued value {key!r} in the executed notebook")
        text = format_glue(self.glue[key], spec)
        self.shown.append([key, spec, text])
        return text

    def cite(self, content: str, parenthetical: bool) -> str:
        parts = []
        for key in (k.strip() for k in content.split(",")):
            if key not in self.refs.citations:
                raise self.fail(f"citation {key!r} is not in the bibliography")
            if key not in self.refs.cited:
                self.refs.cited.append(key)
            c = self.refs.citations[key]
            parts.append(f"{c.authors}, {c.year}" if parenthetical else f"{c.authors} ({c.year})")
        return f"({'; '.join(parts)})" if parenthetical else ", ".join(parts)

    def term(self, content: str) -> str:
        text, target = _explicit(content)
        url = self.refs.terms.get(target.lower(), "")
        return _link(text or target, url)

    def numref(self, content: str) -> str:
        text, label = _explicit(content)
        defaults = {"figure": "Fig. %s", "exercise": "Exercise %s", "section": "Section %s"}
        refs = self.refs
        kinds = {"figure": refs.figures, "exercise": refs.exercises, "section": refs.section_numbers}
        for kind, numbers in kinds.items():
            if label in numbers:
                fmt = text or self.refs.numfig_format.get(kind, defaults[kind])
                return fmt.replace("{number}", numbers[label]).replace("%s", numbers[label])
        raise self.fail(f"{{numref}} to {label!r}, which has no number in this build")

    def ref(self, content: str) -> str:
        text, label = _explicit(content)
        if label not in self.refs.sections:
            raise self.fail(f"{{ref}} to unknown label {label!r}")
        title, url = self.refs.sections[label]
        return _link(text or title, url)

    def doc(self, content: str) -> str:
        text, target = _explicit(content)
        return text or target.rsplit("/", 1)[-1]

    @staticmethod
    def python(kind: str, content: str) -> str:
        text, target = _explicit(content)
        if text is None:
            target = target.lstrip(".")
            text = target.rsplit(".", 1)[-1] if target.startswith("~") else target
            text = text.lstrip("~")
            if kind in ("func", "meth"):
                text += "()"
        return f"`{text}`"

    def inline(self, text: str) -> str:
        """Replace the roles of a run of text (code spans left alone)."""
        out, pos = [], 0
        for m in re.finditer(r"(`+)(?:(?!\1).)+?\1|\{[a-zA-Z][\w:-]*\}(`+).*?\2", text, re.S):
            out.append(text[pos : m.start()])
            token = m.group(0)
            role = ROLE.fullmatch(token)
            out.append(self.role(role.group(1), role.group(3)) if role and token.startswith("{") else token)
            pos = m.end()
        out.append(text[pos:])
        return "".join(out)

    # blocks
    def markdown(self, source: str) -> str:
        """One Markdown cell's source as plain Markdown."""
        lines = source.split("\n")
        out: list[str] = []
        para: list[str] = []
        i = 0

        def flush() -> None:
            if para:
                out.append(self.inline("\n".join(para)))
                para.clear()

        while i < len(lines):
            line = lines[i]
            if LABEL.match(line) or line.strip() == "+++" or re.match(r"^\s*%", line):
                flush()
                i += 1
                continue
            fence = FENCE.match(line)
            plain_fence = re.match(r"^( {0,3})(`{3,}|~{3,})(.*)$", line)
            if fence:
                flush()
                end = self._close(lines, i + 1, fence.group("fence"))
                out.append(self.directive(fence.group("name"), fence.group("arg").strip(), lines[i + 1 : end]))
                i = end + 1
                continue
            if plain_fence:  # a code block: copied as is
                flush()
                end = self._close(lines, i + 1, plain_fence.group(2))
                out.append("\n".join(lines[i : end + 1]))
                i = end + 1
                continue
            para.append(line)
            i += 1
        flush()
        text = "\n".join(out)
        return re.sub(r"\n{3,}", "\n\n", text).strip("\n")

    def _close(self, lines: list[str], start: int, fence: str) -> int:
        for j in range(start, len(lines)):
            stripped = lines[j].strip()
            if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
                return j
        raise self.fail(f"a {fence} block opened at line {start} is never closed")

    @staticmethod
    def options(body: list[str]) -> tuple[dict[str, str], list[str]]:
        """A directive's ``:key: value`` lines (or a ``---`` YAML block) and the rest of its body."""
        opts: dict[str, str] = {}
        i = 0
        if body and body[0].strip() == "---":
            end = next((j for j in range(1, len(body)) if body[j].strip() == "---"), None)
            if end is not None:
                for line in body[1:end]:
                    key, _, value = line.partition(":")
                    opts[key.strip()] = value.strip()
                return opts, body[end + 1 :]
        while i < len(body) and (m := re.match(r"^\s*:([\w-]+):\s*(.*)$", body[i])):
            opts[m.group(1)] = m.group(2)
            i += 1
        return opts, body[i:]

    def exercise_title(self, label: str, title: str) -> str:
        number = self.refs.exercises.get(label, "")
        head = f"Exercise {number}".strip()
        return f"{head} ({self.inline(title)})" if title else head

    def directive(self, name: str, arg: str, body: list[str]) -> str:
        opts, content = self.options(body)
        inner = self.markdown("\n".join(content))
        if name in ("exercise", "exercise-start"):
            heading = f"### {self.exercise_title(opts.get('label', ''), arg)}"
            return f"{heading}\n\n{inner}" if inner else heading
        if name in ("solution", "solution-start"):
            target = arg.split()[0] if arg else ""
            summary = f"Solution to {self.exercise_title(target, '')}" if target else "Solution"
            if name == "solution-start":  # the solution's code cells follow: a heading, not a fold
                return f"#### {summary}\n\n{inner}".strip()
            return f"<details>\n<summary>{summary}</summary>\n\n{inner}\n\n</details>"
        if name in ("exercise-end", "solution-end"):
            return inner
        if name in ("admonition", "note", "tip", "important", "warning", "caution", "attention", "hint", "seealso"):
            title = self.inline(arg) if name == "admonition" else name.capitalize()
            quoted = "\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))
            return f"> **{title}**\n>\n{quoted}"
        if name == "math":
            return f"$$\n{chr(10).join(content).strip()}\n$$"
        raise self.fail(f"unknown directive {{{name}}}")


def reference_list(refs: References) -> str:
    """The "References" cell: every entry the notebook cited, in order of first citation."""
    if not refs.cited:
        return ""
    entries = sorted({refs.citations[k].entry for k in refs.cited})
    return "## References\n\n" + "\n".join(f"- {e}" for e in entries)


def reader_notebook(
    nb: nbformat.NotebookNode, package: str, requirement: str | None, docname: str = "", refs: References | None = None
) -> nbformat.NotebookNode:
    """A reader's copy of ``nb``: the install cell first, plain-Markdown prose, outputs kept.

    The notebook's metadata ``bookbuild.glue`` lists ``[key, format, text]`` for every glued value
    the prose shows, in order (what the page shows; tools/check_site.py compares them).
    """
    out = nbformat.from_dict(json.loads(json.dumps(nb)))
    refs = refs if refs is not None else References()
    refs.cited = []
    conv = Converter(docname, glue_values(nb), refs)
    for cell in out.cells:
        if cell.cell_type == "markdown":
            cell.source = conv.markdown(cell.source)
    out.cells = [c for c in out.cells if c.cell_type != "markdown" or c.source.strip()]
    references = reference_list(refs)
    if references:
        out.cells.append(nbformat.v4.new_markdown_cell(references))
    out.cells.insert(0, install_cell(package, requirement))
    out.metadata.setdefault("bookbuild", {})["glue"] = conv.shown
    for cell in out.cells:  # nbformat 4.5 wants ids; keep them unique after the insertion
        cell.pop("id", None)
    out.nbformat, out.nbformat_minor = 4, 4
    return out


def with_current_prose(executed: nbformat.NotebookNode, source: Path) -> nbformat.NotebookNode:
    """The chapter's cells as its source file has them now, with the executed notebook's outputs.

    A stored execution is reused while the code is unchanged, so its Markdown can be older than
    the page's: the prose comes from ``source`` (read by jupytext, as the build reads it), the
    outputs from ``executed``, code cell by code cell (their sources must agree).
    """
    import jupytext

    current = jupytext.read(source)
    done = [c for c in executed.cells if c.cell_type == "code"]
    code = [c for c in current.cells if c.cell_type == "code"]
    if len(done) != len(code) or any(a.source.strip() != b.source.strip() for a, b in zip(done, code, strict=False)):
        raise ExportError(f"{source}: its code cells differ from the executed notebook's; build the book again")
    for new, old in zip(code, done, strict=True):
        new.outputs = old.get("outputs", [])
        new.execution_count = old.get("execution_count")
        new.metadata = old.metadata
    current.metadata = executed.metadata
    return current


def write_all(
    outdir: Path,
    root: Path,
    notebooks: dict[str, Path],
    package: str,
    requirement_template: str,
    branch: str,
    refs: References | None = None,
    sources: dict[str, Path] | None = None,
    keys: Path | None = None,
) -> dict:
    """Write every chapter's reader notebook under ``outdir/_notebooks``; return the index written beside them.

    ``notebooks``: the executed notebook of each chapter; ``sources``: its source file, whose prose
    is the current one (see :func:`with_current_prose`). ``keys``: a file that remembers what each
    notebook was written from (:func:`notebook_key`: the executed notebook, the source, the install
    requirement, every number, title and citation the page can refer to, this module): a notebook
    whose key is unchanged and whose file is there is not written again (a prose edit in one chapter
    rewrites that chapter's notebook, and the others' only if a number they show changed).
    """
    source = install_source(root)
    requirement = requirement_template.format(source=source) if source else None
    folder = outdir / FOLDER
    known = {}
    if keys is not None and keys.exists():
        try:
            known = json.loads(keys.read_text())
        except ValueError:  # a torn file: write every notebook again
            known = {}
    written = {}
    shared = _references_digest(refs)
    for docname, path in notebooks.items():
        target = folder / f"{docname}.ipynb"
        key = notebook_key(docname, path, (sources or {}).get(docname), package, requirement, shared)
        written[docname] = key
        if keys is not None and known.get(docname) == key and target.exists():
            continue
        nb = nbformat.read(path, as_version=4)
        if sources and docname in sources:
            nb = with_current_prose(nb, sources[docname])
        target.parent.mkdir(parents=True, exist_ok=True)
        # Whole or not at all: the preview writes them while the reader may already download one.
        atomic_write(target, nbformat.writes(reader_notebook(nb, package, requirement, docname, refs)) + "\n")
    index = {
        "repository": repository(root),
        "commit": commit(root),
        "branch": branch,
        "install": requirement,
        "chapters": sorted(notebooks),
    }
    (folder / "index.json").write_text(json.dumps(index, indent=1))
    if keys is not None:
        keys.parent.mkdir(parents=True, exist_ok=True)
        keys.write_text(json.dumps(written, indent=1, sort_keys=True))
    return index


def notebook_key(
    docname: str, executed: Path, source: Path | None, package: str, requirement: str | None, references: str
) -> str:
    """A digest of everything :func:`write_all` makes a chapter's reader notebook from.

    ``references``: :func:`_references_digest` of what the page's roles resolve to.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps([docname, package, requirement, references, _this_module()]).encode())
    for f in (executed, source):
        digest.update(b"\0" + (f.read_bytes() if f is not None and f.exists() else b"(none)"))
    return digest.hexdigest()


@functools.cache
def _this_module() -> str:
    """This module's digest (it makes the notebooks), read once per process."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def _references_digest(refs: References | None) -> str:
    """A digest of every number, title, citation and term in ``refs`` (``cited`` is filled while converting)."""
    if refs is None:
        return "(none)"
    state = dataclasses.asdict(refs)
    state.pop("cited", None)
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()
