"""HTML: main text only, headings as sections, robust against odd markup."""

from __future__ import annotations

import pytest

from qa.errors import LoaderError

from .helpers import texts

PAGE = """<!DOCTYPE html>
<html><head><title>Field Notes</title>
<style>body { color: red }</style><script>var tracking = 1;</script></head>
<body>
<header><a href="/">Site name</a> menu</header>
<nav><ul><li><a href="/a">Nav link A</a></li><li>Nav link B</li></ul></nav>
<main>
  <h1>Field   Notes</h1>
  <p>First paragraph with <b>bold</b> and <a href="javascript:void(0)">a js link</a>.</p>
  <!-- an editor's comment -->
  <h2>Scope</h2>
  <p>Scope text &amp; entities&nbsp;here.</p>
  <div hidden>hidden by attribute</div>
  <p style="display: none">hidden by style</p>
  <span aria-hidden="true">hidden from readers</span>
  <h3>Detail</h3>
  <ul><li>item one</li><li>item <i>two</i><ul><li>nested</li></ul></li></ul>
  <table><tr><th>Name</th><th>Age</th></tr><tr><td>Ann</td><td>42</td></tr></table>
  <h2>Later</h2>
  <div>Loose text<p>inner paragraph</p>tail text</div>
  <p>line one<br>line two</p>
  <pre>  code
    indented</pre>
  <form><input value="search"><button>Go</button>Form text</form>
  <noscript>Enable JS</noscript><template>tpl</template><iframe>frame</iframe>
</main>
<aside>Related posts</aside>
<footer>Copyright footer</footer>
</body></html>
"""


@pytest.fixture
def page(tmp_path, load_checked):
    path = tmp_path / "notes.html"
    path.write_text(PAGE, encoding="utf-8")
    return load_checked(path)


def test_main_text_without_navigation_scripts_or_hidden_parts(page):
    for unwanted in (
        "tracking", "color: red", "Site name", "Nav link", "hidden", "editor's comment",
        "Form text", "search", "Enable JS", "tpl", "frame", "Related posts", "Copyright",
        "javascript", "<", ">",
    ):  # fmt: skip
        assert unwanted not in page.text, unwanted
    assert "First paragraph with bold and a js link." in page.text
    assert "Scope text & entities here." in page.text


def test_headings_are_sections(page):
    assert page.title == "Field Notes"
    assert texts(page, "heading") == ["Field Notes", "Scope", "Detail", "Later"]
    by_text = {page.text[b.start : b.end]: b for b in page.blocks}
    assert by_text["Field Notes"].section == "Field Notes"
    assert by_text["Detail"].section == "Field Notes > Scope > Detail"
    assert by_text["item one\nitem two\nnested"].section == "Field Notes > Scope > Detail"
    assert by_text["Name: Ann; Age: 42"].section == "Field Notes > Scope > Detail"
    assert by_text["Name: Ann; Age: 42"].kind == "table"
    assert by_text["inner paragraph"].section == "Field Notes > Later"


def test_paragraph_structure(page):
    blocks = texts(page)
    for expected in ("Loose text", "inner paragraph", "tail text", "line one\nline two"):
        assert expected in blocks
    assert "code\n    indented" in blocks


@pytest.mark.parametrize(
    ("markup", "title"),
    [
        ("<title> Page  Title </title><h1>Heading</h1><p>x</p>", "Page Title"),
        ("<title>  </title><h1>First <em>H1</em></h1><p>x</p>", "First H1"),
        ("<h2>Not a title</h2><p>just text</p>", "page"),
    ],
)
def test_title_from_title_tag_then_h1_then_stem(tmp_path, load_checked, markup, title):
    path = tmp_path / "page.htm"
    path.write_text(f"<html><head></head><body>{markup}</body></html>", encoding="utf-8")
    assert load_checked(path).title == title


def test_declared_encoding_is_honoured(tmp_path, load_checked):
    path = tmp_path / "latin.html"
    body = '<html><head><meta charset="iso-8859-1"></head><body><p>Café très élevé</p></body>'
    path.write_bytes(body.encode("latin-1"))
    assert load_checked(path).text == "Café très élevé"


@pytest.mark.parametrize(
    "markup",
    [
        "<html><body>" + "<div>" * 30_000 + "deep text" + "</div>" * 30_000 + "</body></html>",
        "<body>" + "<b>" * 20_000 + "bold text" + "<p>unclosed <table><tr><td>a<td>b",
        "<p>broken <<<>>> &&& &#xffffffff; <a href='x>text</p></div></span>",
        "\x00<p>nul\x00 bytes</p>",
    ],
    ids=["deeply-nested", "unclosed", "garbage", "nul"],
)
def test_malformed_html_does_not_crash(tmp_path, load_checked, markup):
    path = tmp_path / "bad.html"
    path.write_text(markup, encoding="utf-8")
    doc = load_checked(path)
    assert "<p>" not in doc.text


def test_recursion_error_becomes_loader_error(tmp_path, monkeypatch):
    from qa.loaders import html, load

    def explode(soup):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(html, "html_blocks", explode)
    path = tmp_path / "deep.html"
    path.write_text("<p>x</p>", encoding="utf-8")
    with pytest.raises(LoaderError, match="nested too deeply"):
        load(path)
