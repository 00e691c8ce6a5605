"""The README and the pages under docs/ name only things that exist.

What is checked, in README.md and docs/*.md:

- every relative markdown link `[text](target)`: the target file (relative to the page) exists, and
  a `#anchor` on it, when given, is a heading of the target page (GitHub's heading ids);
- every repo path named in backticks: an inline code span, or a line of a fenced `bash` block
  (comments included), is split on spaces; a word is a path when it contains a `/` and either ends in `/` (a folder), or
  its last part has an extension (`.py`, `.yaml`, `.tar.gz`), or its first part is a top-level
  folder of the repo (`.ci/run`). Such a path is relative to the repo root and must exist.

A path exists when `git ls-files` lists it (tracked, or untracked and not ignored) and it is in the
working tree; a folder exists when such a file lies under it. Not checked, by rule:

- run outputs, made by `dvc repro`, the install or a run: paths under RUN_OUTPUTS;
- placeholders: a path with `<…>`, `{…}`, `*`, `…` or `$` (`data/m2/models/<pair set>-seed<k>/`);
- paths outside the repo: absolute (`/usr/bin/python3`), `../`, `~`, URLs;
- files of the external data folders (`math.raw_dir`, `classify.raw_dir`) and of the upstream
  repositories they come from, named in the data tables of docs/tasks.md: EXTERNAL.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN_OUTPUTS = ("data/", "reports/", ".cache/", "dvc_plots/", ".venv/", ".dvc/")
EXTERNAL = ("math500/", "MATH/", "fneval/", "prm800k/", "liar/", "logical_fallacy/", "prompt_optimization/")
# Pages and scripts written on branches not merged yet; each is checked as soon as it exists.
# Empty this once those branches are merged.
PENDING: tuple[str, ...] = ()  # pages written on a branch not merged yet

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*(\S*)")
EXTENSION = re.compile(r"\.[A-Za-z][A-Za-z0-9]*$")
PLACEHOLDER = re.compile(r"[<>{}*…$]")
STRIP = "'\"()[],;:"


def repo_files(root: Path) -> set[str]:
    """Files git knows (tracked, or untracked and not ignored) that are in the working tree."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=root,
                         capture_output=True, text=True, check=True).stdout
    return {name for name in out.splitlines() if (root / name).is_file()}


def split_fences(text: str) -> tuple[str, list[str]]:
    """The text outside fenced blocks (fences blanked), and the lines of its `bash` blocks."""
    prose, bash, fence = [], [], None
    for line in text.splitlines():
        match = FENCE.match(line)
        if fence is None and match:
            fence = (match.group(2)[0], len(match.group(2)), match.group(3))
            prose.append("")
        elif fence is not None and match and match.group(2)[0] == fence[0] and len(match.group(2)) >= fence[1] \
                and not match.group(3):
            fence = None
            prose.append("")
        elif fence is not None:
            if fence[2] in ("bash", "sh", "shell", "console"):
                bash.append(line)
            prose.append("")
        else:
            prose.append(line)
    return "\n".join(prose), bash


def code_spans(text: str) -> list[str]:
    """Inline code spans: a run of n backticks up to the next run of exactly n (CommonMark)."""
    spans, runs = [], list(re.finditer(r"`+", text))
    i = 0
    while i < len(runs):
        opening = runs[i]
        closing = next((j for j in range(i + 1, len(runs)) if len(runs[j].group()) == len(opening.group())), None)
        if closing is None:
            i += 1
            continue
        spans.append(text[opening.end():runs[closing].start()])
        i = closing + 1
    return spans


def repo_paths(words: list[str], top_dirs: set[str]) -> list[str]:
    """The words that name a path in this repo (see the module docstring for the rule)."""
    paths = []
    for word in words:
        word = word.strip(STRIP).split("::")[0]  # a test id names its file
        if "/" not in word or not word.strip("/."):
            continue
        is_path = word.endswith("/") or EXTENSION.search(word.rsplit("/", 1)[-1]) or word.split("/")[0] in top_dirs
        outside = word.startswith(("/", "../", "~")) or "://" in word
        if (is_path and not outside and not PLACEHOLDER.search(word)
                and not word.startswith(RUN_OUTPUTS + EXTERNAL)):
            paths.append(word.removeprefix("./"))
    return paths


def slug(heading: str) -> str:
    """GitHub's id of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    prose, _ = split_fences(text)
    seen: dict[str, int] = {}
    for line in prose.splitlines():
        if match := re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line):
            base = slug(match.group(1))
            seen[f"{base}-{seen[base]}" if base in seen else base] = 0
            seen[base] = seen.get(base, 0) + 1
    return set(seen)


def problems(page: Path, root: Path, files: set[str]) -> list[str]:
    """Every link or path of `page` that names nothing in the repo at `root`, in one line each."""
    folders = {"/".join(name.split("/")[:k]) + "/" for name in files for k in range(1, name.count("/") + 1)}
    top_dirs = {name.split("/")[0] for name in files if "/" in name}
    exists = lambda rel: rel in files or (rel.rstrip("/") + "/") in folders  # noqa: E731
    text = page.read_text()
    prose, bash = split_fences(text)
    found = []
    for target in LINK.findall(prose):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page.resolve()
        try:
            rel = resolved.relative_to(root.resolve()).as_posix()
        except ValueError:
            found.append(f"{page.name}: link {target} leaves the repo")
            continue
        if path and not exists(rel):
            if rel not in PENDING:
                found.append(f"{page.name}: link {target}: no {rel}")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved.read_text()):
            found.append(f"{page.name}: link {target}: no heading #{anchor} in {rel}")
    words = [w for span in code_spans(prose) for w in span.split()] + [w for line in bash for w in line.split()]
    for path in repo_paths(words, top_dirs):
        if not exists(path) and path not in PENDING:
            found.append(f"{page.name}: `{path}` does not exist")
    return found


def pages(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def test_every_link_and_path_in_the_readme_and_docs_exists() -> None:
    files = repo_files(ROOT)
    found = [line for page in pages(ROOT) for line in problems(page, ROOT, files)]
    assert found == []


def test_the_check_finds_missing_links_paths_and_anchors(tmp_path: Path) -> None:
    (tmp_path / "lbt").mkdir()
    (tmp_path / "lbt" / "world.py").write_text("")
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".ci" / "run").write_text("")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n## The `toy` world: what it is\n")
    (tmp_path / "README.md").write_text(
        "See [a](docs/a.md), [its part](docs/a.md#the-toy-world-what-it-is), [gone](docs/b.md),\n"
        "[bad anchor](docs/a.md#nowhere), [web](https://dvc.org) and [here](#results).\n\n## Results\n\n"
        "`lbt/world.py` `lbt/gone.py` `lbt/` `lbt/nothing/` `.ci/run` `.ci/walk` ```python block``\n"
        "`python scripts/bench.py --x` `data/models/teacher` `lbt/methods/<name>/` `/usr/bin/python3`\n"
        "`../shared/datasets` `math500/test.jsonl` `base_urls / model names` `Yes/No` `x86_64/a.2`\n\n"
        "```bash\ncp params/x.yaml params.yaml   # params/y.yaml\n```\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    found = problems(tmp_path / "README.md", tmp_path, repo_files(tmp_path))
    assert found == [
        "README.md: link docs/b.md: no docs/b.md",
        "README.md: link docs/a.md#nowhere: no heading #nowhere in docs/a.md",
        "README.md: `lbt/gone.py` does not exist",
        "README.md: `lbt/nothing/` does not exist",
        "README.md: `.ci/walk` does not exist",
        "README.md: `scripts/bench.py` does not exist",
        "README.md: `params/x.yaml` does not exist",
        "README.md: `params/y.yaml` does not exist",
    ]
