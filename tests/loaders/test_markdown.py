"""Markdown: sections from headings, plain text from markup, raw HTML reduced to words."""

from __future__ import annotations

import pytest

from .helpers import texts

NOTE = """# Project *Plan*

Some **bold**, _emphasis_, [a link](https://example.org) and `inline code`.
A soft-wrapped line &amp; an entity.

<div class="banner"><script>track()</script><p>Raw <b>HTML</b> block</p></div>

Text with <u>Sami Karimi</u> underlined and <span style="x">a span</span>.

## Scope

- first item
- second **item**
  - nested item

1. step one
2. step two

### Code

```python
def f():
    return 1
```

| Name | Age |
|------|-----|
| Ann  | 42  |

![diagram](diagram.png)

> A quoted remark.

## Later

Closing words.
"""


@pytest.fixture
def note(tmp_path, load_checked):
    path = tmp_path / "plan.md"
    path.write_text(NOTE, encoding="utf-8")
    return load_checked(path)


def test_markup_becomes_plain_text(note):
    for markup in ("**", "_emphasis_", "](", "`", "<", ">", "&amp;", "track()", "#"):
        assert markup not in note.text, markup
    blocks = texts(note)
    assert "Some bold, emphasis, a link and inline code. A soft-wrapped line & an entity." in blocks
    assert "Raw HTML block" in blocks
    assert "Text with Sami Karimi underlined and a span." in blocks


def test_headings_are_sections(note):
    assert note.title == "Project Plan"
    assert texts(note, "heading") == ["Project Plan", "Scope", "Code", "Later"]
    by_text = {note.text[b.start : b.end]: b for b in note.blocks}
    assert by_text["first item\nsecond item\nnested item"].section == "Project Plan > Scope"
    assert by_text["step one\nstep two"].section == "Project Plan > Scope"
    assert by_text["def f():\n    return 1"].section == "Project Plan > Scope > Code"
    assert by_text["Name | Age\nAnn | 42"].section == "Project Plan > Scope > Code"
    assert by_text["A quoted remark."].section == "Project Plan > Scope > Code"
    assert by_text["Closing words."].section == "Project Plan > Later"


@pytest.mark.parametrize(
    ("source", "title"),
    [
        ("Intro text.\n\n# The Real Title\n\nBody.", "The Real Title"),
        (
            "---\ntitle: 'From Front Matter'\ntags: [a]\n---\n# Heading\n\nBody.",
            "From Front Matter",
        ),
        ("## Only a subheading\n\nBody.", "notes"),
        ("Setext Title\n============\n\nBody.", "Setext Title"),
    ],
)
def test_title_from_front_matter_or_first_h1_or_stem(tmp_path, load_checked, source, title):
    path = tmp_path / "notes.markdown"
    path.write_text(source, encoding="utf-8")
    doc = load_checked(path)
    assert doc.title == title
    assert "tags:" not in doc.text


def test_html_headings_inside_markdown_open_sections(tmp_path, load_checked):
    path = tmp_path / "mixed.md"
    path.write_text("# Top\n\n<h2>Raw Section</h2>\n\nUnder it.\n", encoding="utf-8")
    doc = load_checked(path)
    assert doc.blocks[-1].section == "Top > Raw Section"
