"""The QuickBooks Corrections Log: every change booksync makes to transactions and customers
already in QuickBooks, for the accountant, above all when a past period is affected.

Written as CSV (for spreadsheets), HTML (to preview) and PDF (laid out for printing, with
totals and the run's date) into the run's working files.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from jinja2 import Environment, select_autoescape

from ..domain import Correction
from .csv_safe import SafeWriter

COLUMNS = ("Type", "Number", "Member", "Date", "What changed", "Action in QuickBooks", "Past period", "Closed",
           "Amount before", "Amount after", "Note")

HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>QuickBooks Corrections Log {{ run_id }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #111; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border: 1px solid #999; padding: 0.3rem 0.5rem; vertical-align: top; text-align: left; }
th { background: #eee; }
td.num { text-align: right; white-space: nowrap; }
.flag { font-weight: bold; color: #8a1c00; }
</style></head><body>
<h1>QuickBooks Corrections Log</h1>
<p>Company: {{ company }}<br>Run: {{ run_id }}, {{ run_date }}<br>
Closing date: {{ closing or "none" }}; current period starts {{ period_start }}</p>
<p>{{ corrections|length }} correction(s); {{ past }} in a past period; {{ closed }} on or before the closing date.</p>
<table><thead><tr>{% for c in columns %}<th scope="col">{{ c }}</th>{% endfor %}</tr></thead><tbody>
{% for r in corrections %}<tr>
<td>{{ r.kind }}</td><td>{{ r.number }}</td><td>{{ r.member }}</td><td>{{ r.date or "" }}</td>
<td>{% for ch in r.changes %}{{ ch }}<br>{% endfor %}</td><td>{{ r.action }}</td>
<td class="{{ 'flag' if r.past_period }}">{{ "yes" if r.past_period else "no" }}</td>
<td class="{{ 'flag' if r.closed }}">{{ "yes" if r.closed else "no" }}</td>
<td class="num">{{ r.amount_before if r.amount_before is not none else "" }}</td>
<td class="num">{{ r.amount_after if r.amount_after is not none else "" }}</td><td>{{ r.note }}</td>
</tr>{% endfor %}
</tbody><tfoot><tr><th colspan="8">Totals</th><td class="num">{{ total_before }}</td>
<td class="num">{{ total_after }}</td><td></td></tr></tfoot></table>
</body></html>
"""


def _row(c: Correction) -> list[str]:
    return [c.kind, c.number, c.member, c.date.isoformat() if c.date else "", "; ".join(c.changes), c.action,
            "yes" if c.past_period else "no", "yes" if c.closed else "no",
            "" if c.amount_before is None else str(c.amount_before),
            "" if c.amount_after is None else str(c.amount_after), c.note]


def _totals(corrections: list[Correction]) -> tuple[Decimal, Decimal]:
    before = sum((c.amount_before for c in corrections if c.amount_before is not None), Decimal("0.00"))
    after = sum((c.amount_after for c in corrections if c.amount_after is not None), Decimal("0.00"))
    return before, after


def _latin1(text: str) -> str:
    # The PDF core fonts hold Latin-1 only.
    return text.encode("latin-1", "replace").decode("latin-1").replace("\u2192", "->")


def write_log(folder: Path, corrections: list[Correction], company: str, run_id: str,
              closing: dt.date | None, period_start: dt.date, run_date: dt.date | None = None) -> dict[str, Path]:
    """Write corrections_log.csv, .html and .pdf into ``folder``; return their paths by format."""
    run_date = run_date or dt.date.today()
    folder.mkdir(parents=True, exist_ok=True)
    paths = {fmt: folder / f"corrections_log.{fmt}" for fmt in ("csv", "html", "pdf")}
    with paths["csv"].open("w", newline="", encoding="utf-8") as fh:
        writer = SafeWriter(fh)  # cells a spreadsheet would run as formulas get a leading quote
        writer.writerow(COLUMNS)
        writer.writerows(_row(c) for c in corrections)
    before, after = _totals(corrections)
    env = Environment(autoescape=select_autoescape(default=True))
    paths["html"].write_text(env.from_string(HTML).render(
        corrections=corrections, columns=COLUMNS, company=company, run_id=run_id, run_date=run_date,
        closing=closing, period_start=period_start, past=sum(c.past_period for c in corrections),
        closed=sum(c.closed for c in corrections), total_before=before, total_after=after), encoding="utf-8")
    _pdf(paths["pdf"], corrections, company, run_id, run_date, closing, period_start)
    return paths


class _LogPDF(FPDF):
    """Letter landscape with "Page N of M" at the foot of every page."""

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 5, f"QuickBooks Corrections Log - page {self.page_no()} of {{nb}}", align="C")


# A table row cannot break across pages in fpdf2 ("The row ... is too high and cannot be rendered on a
# single page"), so a correction whose cells wrap to more lines than this is laid out as several rows.
ROW_LINES = 28
_LINE_HEIGHT = 4.5


def _wrapped(pdf: FPDF, width: float, text: str) -> list[str]:
    """``text`` cut into the lines it takes in a column ``width`` mm wide (cell padding left aside)."""
    if not text:
        return [""]
    return pdf.multi_cell(width - 3, _LINE_HEIGHT, text, dry_run=True, output="LINES") or [""]


def _pieces(pdf: FPDF, widths: tuple[float, ...], values: list[str]) -> list[list[str]]:
    """One correction's cells as rows of at most ROW_LINES wrapped lines each; the continuation rows
    repeat the record's number and say "(continued)"."""
    lines = [_wrapped(pdf, w, _latin1(v)) for w, v in zip(widths, values)]
    count = max(len(cell) for cell in lines)
    rows = []
    for start in range(0, count, ROW_LINES):
        rows.append(["\n".join(cell[start:start + ROW_LINES]) for cell in lines])
        if start:
            rows[-1][1] = f"{_latin1(values[1])}\n(continued)"
    return rows


def _pdf(path: Path, corrections: list[Correction], company: str, run_id: str, run_date: dt.date,
         closing: dt.date | None, period_start: dt.date) -> None:
    pdf = _LogPDF(orientation="L", unit="mm", format="Letter")
    pdf.set_auto_page_break(auto=True, margin=14)
    pdf.set_title("QuickBooks Corrections Log")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, "QuickBooks Corrections Log", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(0, 5, _latin1(
        f"Company: {company}\nRun: {run_id}, {run_date.isoformat()}\n"
        f"Closing date: {closing.isoformat() if closing else 'none'}; current period starts "
        f"{period_start.isoformat()}\n{len(corrections)} correction(s); "
        f"{sum(c.past_period for c in corrections)} in a past period; "
        f"{sum(c.closed for c in corrections)} on or before the closing date."), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    widths = (20, 20, 34, 22, 62, 40, 12, 14, 18, 18)
    headers = ("Type", "Number", "Member", "Date", "What changed", "Action in QuickBooks", "Past", "Closed",
               "Before", "After")
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=_LINE_HEIGHT, first_row_as_headings=True,
                   padding=1) as table:
        row = table.row()
        for h in headers:
            row.cell(h)
        for c in corrections:
            values = _row(c)[:10]
            values[4] = "\n".join(c.changes) + (f"\n{c.note}" if c.note else "")
            values[6] = "PAST" if c.past_period else "no"
            values[7] = "CLOSED" if c.closed else "no"
            for piece in _pieces(pdf, widths, values):
                row = table.row()
                for v in piece:
                    row.cell(v)
        before, after = _totals(corrections)
        row = table.row()
        for v in ("Totals", "", "", "", "", "", "", "", str(before), str(after)):
            row.cell(v)
    pdf.output(str(path))
