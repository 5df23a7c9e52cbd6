"""The generated sections of ``docs/performance.md``: each bench script owns the text between its two markers."""

from __future__ import annotations

from pathlib import Path

PAGE = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def write_section(start: str, end: str, lines: list[str], page: Path = PAGE) -> str:
    """Put ``lines`` between the markers ``start`` and ``end`` of ``page`` (appended at the end the first time);
    the rest of the page is kept. Returns the section written."""
    text = page.read_text()
    block = "\n".join([start, *lines, end])
    if start in text:
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    page.write_text(text)
    return block
