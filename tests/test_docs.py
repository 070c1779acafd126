"""Every ```python block in README.md and docs/*.md runs, in page order.

The blocks of one page share a namespace and run in a fresh temporary working directory, with
``XDG_CACHE_HOME`` pointing at a session folder (so the sample set is made once). An HTML comment
on the line just above a block's fence changes how it is tested (see docs/README.md):

    <!-- test: skip REASON -->        not run here; reported as skipped with REASON
    <!-- test: cuda -->               needs an NVIDIA GPU (the ``cuda`` marker's policy applies)
    <!-- test: requires torch -->     skipped when the module is not installed
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PAGES = [p for p in PAGES if p.name != "README.md" or p.parent == ROOT]

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*test:\s*(?P<verb>\w+)\s*(?P<arg>.*?)\s*-->\s*$")


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the first code line
    code: str
    directives: list[tuple[str, str]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def extract_blocks(page: Path) -> list[Block]:
    """The fenced blocks whose info string is ``python`` or ``py``, with their directives."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        language = opening["info"].strip().split(" ")[0] if opening["info"].strip() else ""
        body_start = i + 1
        j = body_start
        while j < len(lines):
            closing = _FENCE.match(lines[j])
            if closing and closing["fence"].startswith(fence) and not closing["info"].strip():
                break
            j += 1
        if language in ("python", "py"):
            code = "\n".join(line[indent:] for line in lines[body_start:j])
            directives = []
            k = i - 1
            while k >= 0 and (m := _DIRECTIVE.match(lines[k])):
                directives.append((m["verb"], m["arg"]))
                k -= 1
            blocks.append(Block(page, body_start + 1, code, directives))
        i = j + 1
    return blocks


def _params():
    params = []
    for page in PAGES:
        for block in extract_blocks(page):
            marks = [pytest.mark.cuda for verb, _ in block.directives if verb == "cuda"]
            params.append(pytest.param(block, id=block.id, marks=marks))
    return params


# One namespace and one working directory per page; a failed block poisons the rest of its page.
_namespaces: dict[Path, dict] = {}
_workdirs: dict[Path, Path] = {}
_failed: set[Path] = set()


@pytest.fixture(scope="module", autouse=True)
def _release_namespaces():
    """Empties the pages' namespaces after this module: the objects an example leaves in its
    variables (buffers, packets, decoders) must not outlive it, or the live-object check of
    ``make test-live`` counts them as leaked at the end of the session."""
    yield
    for namespace in _namespaces.values():
        # clear() also breaks the cycles through functions the examples define (their
        # __globals__ is the namespace itself).
        namespace.clear()
    _namespaces.clear()


@pytest.mark.parametrize("block", _params())
def test_doc_example(block: Block, xdg_cache, tmp_path_factory, monkeypatch):
    for verb, arg in block.directives:
        if verb == "skip":
            pytest.skip(f"marked not runnable here: {arg or 'no reason given'}")
        elif verb == "requires":
            for module in arg.replace(",", " ").split():
                pytest.importorskip(module)
        elif verb != "cuda":
            pytest.fail(f"{block.id}: unknown test directive {verb!r}")
    if block.page in _failed:
        pytest.skip("an earlier block on this page failed")
    if block.page not in _workdirs:
        _workdirs[block.page] = tmp_path_factory.mktemp(block.page.stem)
    workdir = _workdirs[block.page]
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg_cache))
    monkeypatch.chdir(workdir)
    namespace = _namespaces.setdefault(block.page, {"__name__": f"docs_{block.page.stem}"})
    # Pad with blank lines so a traceback names the line in the page.
    code = compile("\n" * (block.line - 1) + block.code, str(block.page), "exec")
    try:
        exec(code, namespace)
    except BaseException:
        _failed.add(block.page)
        raise


def test_extraction_finds_blocks_and_directives(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n```python\nx = 1\n```\n\n```sh\nls\n```\n\n"
        "<!-- test: skip needs a GPU -->\n```python\nimport cupy\n```\n\n"
        "- item\n\n  ```py\n  y = 2\n  ```\n\n"
        "````python\n```\nnested\n```\n````\n"
    )
    blocks = extract_blocks(page)
    assert [b.code for b in blocks] == ["x = 1", "import cupy", "y = 2", "```\nnested\n```"]
    assert [b.line for b in blocks] == [4, 13, 19, 23]
    assert blocks[1].directives == [("skip", "needs a GPU")]
    assert all(not b.directives for b in blocks if b is not blocks[1])


def test_every_page_is_in_the_toctree():
    index = (ROOT / "docs" / "index.md").read_text()
    pages = {p.stem for p in (ROOT / "docs").glob("*.md")} - {"index", "README"}
    listed = set(re.findall(r"^([\w-]+)\s*$", index, flags=re.M))
    assert pages <= listed, f"pages missing from docs/index.md's toctree: {pages - listed}"


def test_docs_never_name_local_paths():
    for page in PAGES:
        text = page.read_text()
        assert not re.search(r"/(work|home|root)/\w", text), page


def test_sphinx_build_has_no_warnings(tmp_path):
    """What ``make docs`` runs: every page builds, every reference resolves, no warning."""
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    import subprocess
    import sys

    sphinx = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    proc = subprocess.run(
        [*sphinx, str(ROOT / "docs"), str(tmp_path / "html")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
