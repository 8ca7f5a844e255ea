"""Run the examples of the documentation: every ```python block of every page under docs/.

The blocks of one page run in order in one namespace, in a fresh temporary working
folder, so a page's examples must make their own files. A block whose first line
is ``# not run`` (maybe followed by why) is skipped, for cluster addresses and the
like. New pages are picked up automatically.
"""

from __future__ import annotations

import re
import sys
import textwrap
import types
from dataclasses import dataclass
from pathlib import Path

import dask
import pytest

import lazyims
from lazyims.formats import _registry

DOCS = Path(__file__).resolve().parents[1] / "docs"
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)")
SKIP_MARK = "# not run"


@dataclass
class Block:
    """One ```python block: its code and the line of the page it starts on (1-based)."""

    code: str
    line: int

    @property
    def skipped(self) -> bool:
        lines = self.code.strip().splitlines()
        return bool(lines) and lines[0].strip().lower().startswith(SKIP_MARK)


def python_blocks(text: str) -> list[Block]:
    """The ```python (or ```py) blocks of a markdown text, in order."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, lang = match["indent"], match["fence"], match["lang"].lower()
        end = i + 1
        while end < len(lines) and not (
            lines[end].strip().startswith(fence) and lines[end].strip().strip(fence[0]) == ""
        ):
            end += 1
        if lang in ("python", "py"):
            body = [
                line[len(indent) :] if line.startswith(indent) else line
                for line in lines[i + 1 : end]
            ]
            blocks.append(Block(textwrap.dedent("\n".join(body)), i + 2))
        i = end + 1
    return blocks


def pages_with_examples() -> list[Path]:
    return [p for p in sorted(DOCS.rglob("*.md")) if python_blocks(p.read_text(encoding="utf-8"))]


def _close_clusters(namespace: dict) -> None:
    for value in namespace.values():
        if type(value).__name__ in ("Client", "LocalCluster") and hasattr(value, "close"):
            value.close()


@pytest.mark.parametrize("page", pages_with_examples(), ids=lambda p: str(p.relative_to(DOCS)))
def test_page_examples_run(page: Path, tmp_path, monkeypatch):
    # worker processes a page starts must import this lazyims, whatever the working folder
    monkeypatch.syspath_prepend(str(Path(lazyims.__file__).resolve().parents[1]))
    monkeypatch.chdir(tmp_path)
    # formats a page registers stay on that page
    monkeypatch.setattr(_registry, "_FORMATS", dict(_registry._FORMATS))
    # a module of its own, as a script has: classes (dataclasses) defined on a page work
    page_module = types.ModuleType("__docs__")
    monkeypatch.setitem(sys.modules, "__docs__", page_module)
    namespace: dict = page_module.__dict__
    ran = 0
    with dask.config.set({}):  # a page that changes dask's config does not change the others'
        try:
            for block in python_blocks(page.read_text(encoding="utf-8")):
                if block.skipped:
                    continue
                # pad so that tracebacks give the line numbers of the page itself
                code = compile(
                    "\n" * (block.line - 1) + block.code, str(page), "exec", dont_inherit=True
                )
                exec(code, namespace)  # noqa: S102 - running the documentation is the point
                ran += 1
        finally:
            _close_clusters(namespace)
    assert ran or all(b.skipped for b in python_blocks(page.read_text(encoding="utf-8")))
    for cache in frame_caches(tmp_path):
        kept = cache.to_dask(sparse=True).compute().nnz
        assert kept > 0, f"{page.name}'s example writes {cache.source}, a frame-cache of no pixel"


def frame_caches(folder: Path) -> list[lazyims.ImageSeries]:
    """The frame-caches in ``folder`` and below (npz, fch5 and yml styles), opened."""
    found = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in (".npz", ".fch5", ".yml", ".yaml") or not path.is_file():
            continue
        try:  # not every such file is a frame-cache (a yml's own npz opens through the yml)
            series = lazyims.open(path)
        except lazyims.LazyImsError:
            continue
        if series.format == "frame-cache":
            found.append(series)
    return found


def test_the_quick_start_writes_a_cache_that_keeps_spots(tmp_path, monkeypatch):
    # the first example a new user runs: it must keep the spots, not an empty cache
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in python_blocks((DOCS / "index.md").read_text(encoding="utf-8")):
        if not block.skipped:
            exec(block.code, namespace)  # noqa: S102
    cache = lazyims.open(tmp_path / "scan-fc.npz")
    stored = cache.to_dask(sparse=True).compute()
    assert stored.nnz > 0
    # only the spots are kept: the background alone stays under the threshold
    assert stored.nnz < 0.001 * cache.nframes * cache.frame_shape[0] * cache.frame_shape[1]


def test_block_finder_reads_fences_indentation_and_skip_marks():
    text = """# Page
```python
a = 1
```
text
```bash
lazyims info x
```
!!! note
    ```python
    # not run: needs a cluster
    client = connect()
    ```
~~~py
b = a + 1
~~~
````python
c = '''
```
'''
````
"""
    blocks = python_blocks(text)
    assert [b.line for b in blocks] == [3, 11, 15, 18]
    assert [b.skipped for b in blocks] == [False, True, False, False]
    assert blocks[1].code.startswith("# not run: needs a cluster\nclient")
    namespace: dict = {}
    for block in blocks:
        if not block.skipped:
            exec(block.code, namespace)  # noqa: S102
    assert namespace["b"] == 2 and namespace["c"] == "\n```\n"


def test_the_site_builds_without_warnings(tmp_path):
    # `nox -s docs` (mkdocs build --strict) run here too where the docs extra is
    # installed: a docstring the API reference cannot parse fails the build.
    pytest.importorskip("mkdocs", reason="the docs extra is not installed")
    pytest.importorskip("mkdocstrings_handlers.python", reason="the docs extra is not installed")
    import subprocess

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
