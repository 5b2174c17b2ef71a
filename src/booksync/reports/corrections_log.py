"""The QuickBooks Corrections Log: every change booksync makes to transactions and customers
already in QuickBooks, for the accountant, above all when a past period is affected.

Written as CSV (for spreadsheets), HTML (to preview) and PDF (laid out for printing: who prepared it,
the run, page numbers, totals per kind of record) into the run's working files. Each correction says in
plain words what happens in QuickBooks ("changed", "voided", "taken out of the deposit..."), the G/L
accounts and the accounting period it affects.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from jinja2 import Environment, select_autoescape

from booksync.domain import Correction
from booksync.kinds import BILLED_TRANSACTIONS, spec
from booksync.reports.csv_safe import SafeWriter

COLUMNS = ("Type", "Number", "Member", "Date", "Period", "G/L accounts", "What changed", "Action in QuickBooks",
           "Past period", "Closed", "Amount before", "Amount after", "Note")

KINDS = tuple((spec(kind).label.capitalize(), spec(kind).plural) for kind in BILLED_TRANSACTIONS)
"""Kinds whose amounts are totalled, each on its own (adding invoices and payments together means nothing), as
(``Correction.kind``, plural): ("Invoice", "invoices"), ("Credit memo", "credit memos"), ("Payment", "payments")."""

HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>QuickBooks Corrections Log {{ h.run_id }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #111; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border: 1px solid #999; padding: 0.3rem 0.5rem; vertical-align: top; text-align: left; }
th { background: #eee; }
td.num { text-align: right; white-space: nowrap; }
.flag { font-weight: bold; color: #8a1c00; }
</style></head><body>
<h1>QuickBooks Corrections Log</h1>
<p>Company: {{ h.company }}<br>Run: {{ h.run_id }}, {{ h.run_date }}<br>Prepared by: {{ h.prepared_by }}<br>
Closing date: {{ h.closing or "none" }}; current period starts {{ h.period_start }}</p>
<p>{{ corrections|length }} correction(s); {{ past }} in a past period; {{ closed }} on or before the closing date.</p>
<table><thead><tr>{% for c in columns %}<th scope="col">{{ c }}</th>{% endfor %}</tr></thead><tbody>
{% for r in rows %}<tr>
<td>{{ r[0] }}</td><td>{{ r[1] }}</td><td>{{ r[2] }}</td><td>{{ r[3] }}</td><td>{{ r[4] }}</td>
<td>{% for a in r[5].split("; ") %}{{ a }}<br>{% endfor %}</td>
<td>{% for ch in r[6].split("; ") %}{{ ch }}<br>{% endfor %}</td><td>{{ r[7] }}</td>
<td class="{{ 'flag' if r[8] == 'yes' }}">{{ r[8] }}</td><td class="{{ 'flag' if r[9] == 'yes' }}">{{ r[9] }}</td>
<td class="num">{{ r[10] }}</td><td class="num">{{ r[11] }}</td><td>{{ r[12] }}</td>
</tr>{% endfor %}
</tbody>{% if totals %}<tfoot>{% for label, before, after in totals %}<tr><th colspan="10" scope="row">{{ label }}</th>
<td class="num">{{ before }}</td><td class="num">{{ after }}</td><td></td></tr>{% endfor %}</tfoot>{% endif %}</table>
</body></html>
"""


@dataclass
class LogHeader:
    """What the log says about itself: the company, the run, who prepared it, the periods."""

    company: str
    run_id: str
    run_date: dt.date
    prepared_by: str
    closing: dt.date | None
    period_start: dt.date
    period: str = "month"
    """Length of an accounting period: "month", "quarter" or "year" (the ``[corrections]`` setting)."""
    fiscal_year_start: int = 1


def period_of(date: dt.date | None, length: str = "month", fiscal_year_start: int = 1) -> str:
    """The accounting period holding ``date``: "Jan 2025" (months), "quarter from Jan 2025", "year from Jul 2024"."""
    if date is None:
        return ""
    if length == "month":
        return f"{date:%b %Y}"
    months = 3 if length == "quarter" else 12
    back = (date.month - fiscal_year_start) % 12 % months
    year, month = date.year, date.month - back
    if month < 1:
        year, month = year - 1, month + 12
    return f"{'quarter' if months == 3 else 'year'} from {dt.date(year, month, 1):%b %Y}"


def _row(c: Correction, header: LogHeader) -> list[str]:
    return [c.kind, c.number, c.member, c.date.isoformat() if c.date else "",
            period_of(c.date, header.period, header.fiscal_year_start), "; ".join(c.accounts), "; ".join(c.changes),
            c.action, "yes" if c.past_period else "no", "yes" if c.closed else "no",
            "" if c.amount_before is None else str(c.amount_before),
            "" if c.amount_after is None else str(c.amount_after), c.note]


def totals(corrections: list[Correction]) -> list[tuple[str, Decimal, Decimal]]:
    """("Totals of invoices (N)", before, after) for each kind of record that has corrections with amounts."""
    out = []
    for kind, plural in KINDS:
        mine = [c for c in corrections if c.kind == kind and c.amount_before is not None]
        if mine:
            out.append((f"Totals of {plural} ({len(mine)})",
                        sum((c.amount_before for c in mine), Decimal("0.00")),
                        sum((c.amount_after or Decimal("0.00") for c in mine), Decimal("0.00"))))
    return out


def _latin1(text: str) -> str:
    # The PDF core fonts hold Latin-1 only.
    return text.encode("latin-1", "replace").decode("latin-1").replace("\u2192", "->")


def write_log(folder: Path, corrections: list[Correction], header: LogHeader) -> dict[str, Path]:
    """Write corrections_log.csv, .html and .pdf into ``folder``; return their paths by format."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {fmt: folder / f"corrections_log.{fmt}" for fmt in ("csv", "html", "pdf")}
    rows = [_row(c, header) for c in corrections]
    with paths["csv"].open("w", newline="", encoding="utf-8") as fh:
        writer = SafeWriter(fh)  # cells a spreadsheet would run as formulas get a leading quote
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    env = Environment(autoescape=select_autoescape(default=True))
    paths["html"].write_text(env.from_string(HTML).render(
        corrections=corrections, rows=rows, columns=COLUMNS, h=header, totals=totals(corrections),
        past=sum(c.past_period for c in corrections), closed=sum(c.closed for c in corrections)), encoding="utf-8")
    _pdf(paths["pdf"], corrections, rows, header)
    return paths


class _LogPDF(FPDF):
    """Letter landscape with the run and "page N of M" at the foot of every page."""

    run_id = ""

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 5, f"QuickBooks Corrections Log, run {self.run_id} - page {self.page_no()} of {{nb}}",
                  align="C")


# A table row cannot break across pages in fpdf2 ("The row ... is too high and cannot be rendered on a
# single page"), so a correction whose cells wrap to more lines than this is laid out as several rows.
ROW_LINES = 28
_LINE_HEIGHT = 4.2


def _wrapped(pdf: FPDF, width: float, text: str) -> list[str]:
    """``text`` cut into the lines it takes in a column ``width`` mm wide: the table leaves ``width`` less its
    padding (1 mm a side) for text, and multi_cell takes its own margin off the width it is given, so it is
    given that back (with 0.2 mm to spare, so the table never wraps a line again)."""
    if not text:
        return [""]
    return pdf.multi_cell(width - 2.2 + 2 * pdf.c_margin, _LINE_HEIGHT, text, dry_run=True, output="LINES") or [""]


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


PDF_COLUMNS = (("Type", 18), ("Number", 19), ("Member", 28), ("Date", 20), ("Period", 17), ("G/L accounts", 26),
               ("What changed", 44), ("Action in QuickBooks", 28), ("Past", 10), ("Closed", 15), ("Before", 17),
               ("After", 17))
"""Columns and their widths in mm: 259, Letter landscape less the margins."""


def _pdf(path: Path, corrections: list[Correction], rows: list[list[str]], h: LogHeader) -> None:
    pdf = _LogPDF(orientation="L", unit="mm", format="Letter")
    pdf.run_id = h.run_id
    pdf.set_auto_page_break(auto=True, margin=14)
    pdf.set_title("QuickBooks Corrections Log")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, "QuickBooks Corrections Log", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(0, 5, _latin1(
        f"Company: {h.company}\nRun: {h.run_id}, {h.run_date.isoformat()}\nPrepared by: {h.prepared_by}\n"
        f"Closing date: {h.closing.isoformat() if h.closing else 'none'}; current period starts "
        f"{h.period_start.isoformat()}\n{len(corrections)} correction(s); "
        f"{sum(c.past_period for c in corrections)} in a past period; "
        f"{sum(c.closed for c in corrections)} on or before the closing date."), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "", 8)
    widths = tuple(w for _, w in PDF_COLUMNS)
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=_LINE_HEIGHT, first_row_as_headings=True,
                   padding=1) as table:
        row = table.row()
        for name, _ in PDF_COLUMNS:
            row.cell(name)
        for c, values in zip(corrections, rows):
            values = values[:12]
            values[6] = "\n".join(c.changes) + (f"\n{c.note}" if c.note else "")
            values[5] = "\n".join(c.accounts)
            values[8] = "PAST" if c.past_period else "no"
            values[9] = "CLOSED" if c.closed else "no"
            for piece in _pieces(pdf, widths, values):
                row = table.row()
                for v in piece:
                    row.cell(v)
        for label, before, after in totals(corrections):
            row = table.row()
            row.cell(label, colspan=10)
            row.cell(str(before))
            row.cell(str(after))
    pdf.output(str(path))
