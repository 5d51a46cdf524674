"""Tables in Word, HTML and PDF: each row a line with its column headers, found by a question.

The retrieval tests use the real model and store: "what was the revenue in
2021?" must come back with the chunk that holds the 2021 row and its headers,
and the extractive answer must cite it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.loaders import load

from .samples import REVENUE

ROW_2021 = "Year: 2021; Revenue: 4.2 M; Margin: 12%"
INTRO = ("The finance team reports the figures of the company every year. "
         "The table below gives revenue and margin by year.")
AFTER = "Figures are unaudited until the annual meeting approves them."


def write_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Annual figures", 1)
    document.add_paragraph(INTRO)
    table = document.add_table(rows=len(REVENUE), cols=3)
    for r, row in enumerate(REVENUE):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph(AFTER)
    document.save(str(path))
    return path


def write_html(path: Path) -> Path:
    head, *rows = REVENUE
    body = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>" for row in rows)
    path.write_text(
        "<html><head><title>Annual figures</title></head><body><h1>Annual figures</h1>"
        f"<p>{INTRO}</p><table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head)
        + f"</tr></thead><tbody>{body}</tbody></table><p>{AFTER}</p></body></html>"
    )
    return path


def write_pdf(path: Path) -> Path:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    styles = getSampleStyleSheet()
    table = Table([list(row) for row in REVENUE])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
    story = [Paragraph("Annual figures", styles["Heading1"]), Paragraph(INTRO, styles["BodyText"]),
             table, Paragraph(AFTER, styles["BodyText"])]
    SimpleDocTemplate(str(path), pagesize=A4, title="Annual figures").build(story)
    return path


WRITERS = {".docx": write_docx, ".html": write_html, ".pdf": write_pdf}


@pytest.mark.parametrize("suffix", sorted(WRITERS))
def test_table_rows_keep_their_headers(tmp_path, load_checked, suffix):
    doc = load_checked(WRITERS[suffix](tmp_path / f"figures{suffix}"))
    tables = [doc.text[b.start : b.end] for b in doc.blocks if b.kind == "table"]
    assert tables == ["Year: 2020; Revenue: 3.9 M; Margin: 10%\n" + ROW_2021
                      + "\nYear: 2022; Revenue: 5.1 M; Margin: 14%"]
    # The text around the table keeps its place: before it, and after it.
    assert doc.text.index(INTRO[:40]) < doc.text.index(ROW_2021) < doc.text.index(AFTER[:40])


def test_a_box_around_text_is_not_a_table(tmp_path, load_checked):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    path = tmp_path / "boxed.pdf"
    pdf = canvas.Canvas(str(path), pagesize=A4)
    for n in range(4):
        pdf.rect(60, 700 - 40 * n, 400, 30)
    pdf.drawString(72, 712, "A framed remark, not a table.")
    pdf.save()
    doc = load_checked(path)
    assert [b.kind for b in doc.blocks] == ["text"]
    assert load(path).text == "A framed remark, not a table."


@pytest.mark.slow
@pytest.mark.usefixtures("shared_model")
@pytest.mark.parametrize("suffix", sorted(WRITERS))
def test_revenue_question_finds_and_cites_the_row(tmp_path, suffix):
    from qa import ask, ingest, retrieve
    from tests.hostile.helpers import prose

    folder = tmp_path / "docs"
    folder.mkdir()
    WRITERS[suffix](folder / f"figures{suffix}")
    # Other documents that talk about years and money, so the table has to win.
    (folder / "history.txt").write_text(
        "In 2021 the board met four times and discussed the new warehouse budget. "
        + prose("mkhistory", 5))
    (folder / "plan.md").write_text("# Plan\n\nRevenue targets for 2024 are not set yet. "
                                    + prose("mkplan", 5))
    report = ingest([folder])
    assert not report.failed, report.files
    best = retrieve("what was the revenue in 2021?", k=3)[0]
    assert Path(best.source).name == f"figures{suffix}"
    assert ROW_2021 in best.text
    answer = ask("what was the revenue in 2021?", llm="extractive")
    assert not answer.refused, answer.text
    cited = [c for c in answer.citations if ROW_2021 in c.text]
    assert cited, (answer.text, [c.text for c in answer.citations])
    assert "4.2 M" in answer.text
