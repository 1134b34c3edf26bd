"""The repository stands on its own: no reference to notes outside it, and no broken link in its documentation.

Whoever clones the repository has only what is tracked in it, so a code comment or a document that cites
a file outside it (the research notes the project started from) points at nothing; the facts belong in
docs/ (docs/technical-notes.md). And every relative link in README.md and docs/*.md must reach a file,
and a `#anchor` on a Markdown file must reach a heading or an `<a id>` there.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from config import BASE_DIR

#: What a reference to the notes outside the repository looks like (the notes' file and folder names).
OUTSIDE_REFERENCES = re.compile(
    r"\.\./shared|TECHNICAL-NOTES|ARCHITECTURE\.md|PRODUCT\.md|shared/(research|seeds|hooks)|\bseeds/\d"
)
#: Alembic's autogenerate markers: a migration that still has them has not been reviewed.
UNREVIEWED_MIGRATION = "please adjust!"


def _tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(  # noqa: S603 - fixed arguments
            ["git", "ls-files", "-z"],  # noqa: S607 - git from PATH, as every developer runs it
            cwd=BASE_DIR,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout (an unpacked release has no git metadata to list the tracked files)")
    return [BASE_DIR / name for name in listed.decode().split("\0") if name]


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
        return None  # binary (screenshots, fonts) or deleted in the working tree


def test_no_tracked_file_refers_to_notes_outside_the_repository():
    this_file = Path(__file__).resolve()
    offenders = []
    for path in _tracked_files():
        if path.resolve() == this_file:
            continue
        text = _text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE_REFERENCES.search(line):
                offenders.append(f"{path.relative_to(BASE_DIR)}:{number}: {line.strip()}")
    assert not offenders, "cite docs/ (e.g. docs/technical-notes.md#…) instead:\n" + "\n".join(offenders)


def test_the_reference_pattern_catches_what_it_is_meant_to():
    for cited in ("see ../shared/PRODUCT.md", "(TECHNICAL-NOTES §2)", "ARCHITECTURE.md", "shared/research §4.2"):
        assert OUTSIDE_REFERENCES.search(cited), cited
    for fine in ("docs/architecture.md", "docs/technical-notes.md#calendar", "a shared cache", "research"):
        assert not OUTSIDE_REFERENCES.search(fine), fine


def test_every_migration_has_been_reviewed():
    unreviewed = [
        path.name
        for path in (BASE_DIR / "migrations" / "versions").glob("*.py")
        if UNREVIEWED_MIGRATION in path.read_text()
    ]
    assert not unreviewed, f"review the migration and delete Alembic's markers: {unreviewed}"


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*)$", re.MULTILINE)
ANCHOR = re.compile(r"<a id=\"([^\"]+)\"")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(markdown: str) -> set[str]:
    return {_slug(h) for h in HEADING.findall(markdown)} | set(ANCHOR.findall(markdown))


def _documents() -> list[Path]:
    return [
        BASE_DIR / "README.md",
        *sorted((BASE_DIR / "docs").glob("*.md")),
        BASE_DIR / "bench" / "README.md",
        BASE_DIR / "deploy" / "README.md",
    ]


def _relative_links(markdown: str) -> list[str]:
    return [
        target for target in LINK.findall(markdown) if not re.match(r"[a-z][a-z0-9+.-]*:", target)
    ]  # http:, https:, mailto: and other schemes are not files


@pytest.mark.parametrize("document", _documents(), ids=lambda path: str(path.relative_to(BASE_DIR)))
def test_every_relative_link_reaches_a_file_and_its_anchor(document):
    markdown = document.read_text(encoding="utf-8")
    broken = []
    for target in _relative_links(markdown):
        file_part, _hash, anchor = target.partition("#")
        path = (document.parent / file_part).resolve() if file_part else document
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path.read_text(encoding="utf-8")):
            broken.append(f"{target}: no heading or <a id> {anchor!r} in {path.name}")
    assert not broken, f"{document.name}:\n" + "\n".join(broken)


CITATION = re.compile(r"\bdocs/([\w-]+\.md)(?:#([\w-]+))?")


def test_every_citation_of_docs_in_the_code_reaches_its_section():
    """Code comments cite `docs/technical-notes.md#calendar`; the file and the anchor must exist."""
    broken = []
    for path in _tracked_files():
        if path.resolve() == Path(__file__).resolve():
            continue  # its own examples
        if path.suffix not in {".py", ".html", ".txt", ".cfg", ".toml", ".sh", ".conf"} and path.name != "Makefile":
            continue
        for name, anchor in CITATION.findall(_text(path) or ""):
            cited = BASE_DIR / "docs" / name
            if not cited.exists():
                broken.append(f"{path.relative_to(BASE_DIR)}: docs/{name} does not exist")
            elif anchor and anchor not in _anchors(cited.read_text(encoding="utf-8")):
                broken.append(f"{path.relative_to(BASE_DIR)}: no section #{anchor} in docs/{name}")
    assert not broken, "\n".join(broken)


def test_the_link_check_sees_links_and_anchors():
    markdown = '# Top\n<a id="x"></a>\n## `a.py`: two, words\n[one](docs/x.md#y) [web](https://example.org) ![i](p.png)'
    assert _relative_links(markdown) == ["docs/x.md#y", "p.png"]
    assert _anchors(markdown) == {"top", "x", "apy-two-words"}
