"""The regional monitoring report: an XLSX laid out the way analysts make it, and an SVG chart (no I/O)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from copy import copy
from dataclasses import dataclass
from datetime import date
from typing import Any
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from kit.tabular import xlsx_cell
from services.audit.bands import BANDS, band_row, inner_edges
from services.audit.engagement import ENGAGED_FROM
from services.audit.monitoring import (
    LEADER_BAND,
    SELF_AUDIT_BELOW,
    WEAK_STEP_BELOW,
    Analysis,
    MunicipalityResult,
    round_half_up,
    self_audit_reasons,
)
from services.audit.vocab import STEP_LABELS_RU, STEP_MAX, TOTAL_MAX, Step

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A municipality the upload gave no name for: its code stands in its own column, never in the name's.
NO_NAME = "название не указано в загрузке"
SVG_MEDIA_TYPE = "image/svg+xml"


@dataclass(frozen=True)
class CampaignInfo:
    region: str
    code: str
    title: str
    held_on: date
    previous_code: str | None = None


class _Styles:
    def __init__(self) -> None:
        self.fills = {b.band: PatternFill(fill_type="solid", start_color=b.colour, end_color=b.colour) for b in BANDS}
        self.header_fill = PatternFill(fill_type="solid", start_color="D9E1F2", end_color="D9E1F2")
        self.bold = Font(bold=True)
        self.title = Font(bold=True, size=14)
        self.wrap = Alignment(wrap_text=True, vertical="center", horizontal="center")
        thin = Side(style="thin", color="999999")
        self.border = Border(left=thin, right=thin, top=thin, bottom=thin)
        # Registering a style hashes it against the workbook's style tables, which dominated the build;
        # cells with the same combination share one registered style array instead.
        self._arrays: dict[tuple[int, int, str | None, int, int], StyleArray] = {}

    def cell(
        self,
        ws: WriteOnlyWorksheet,
        value: Any,
        *,
        fill: PatternFill | None = None,
        font: Font | None = None,
        fmt: str | None = None,
        align: Alignment | None = None,
        border: Border | None = None,
    ) -> WriteOnlyCell:
        c = WriteOnlyCell(ws, value=xlsx_cell(value))
        key = (id(fill), id(font), fmt, id(align), id(border))
        cached = self._arrays.get(key)
        if cached is not None:
            c._style = copy(cached)
            return c
        if fill is not None:
            c.fill = fill
        if font is not None:
            c.font = font
        if fmt is not None:
            c.number_format = fmt
        if align is not None:
            c.alignment = align
        if border is not None:
            c.border = border
        self._arrays[key] = copy(c._style)
        return c


def _pts(value: Any) -> float:
    return round_half_up(value, 2)


def _delta_text(m: MunicipalityResult) -> float | None:
    return _pts(m.change.delta_total) if m.change is not None else None


def build_xlsx(analysis: Analysis, info: CampaignInfo) -> bytes:
    """The report workbook: municipalities with band fills and totals, top deficits, self-audit list, chart."""
    st = _Styles()
    wb = Workbook(write_only=True)
    _main_sheet(wb, analysis, info, st)
    _deficits_sheet(wb, analysis, st)
    _self_audit_sheet(wb, analysis, st)
    _chart_sheet(wb, analysis, st)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _main_sheet(wb: Workbook, a: Analysis, info: CampaignInfo, st: _Styles) -> None:
    ws = wb.create_sheet("Мониторинг")
    ws.column_dimensions["A"].width = 5
    ws.column_dimensions["B"].width = 12
    ws.column_dimensions["C"].width = 34
    ws.freeze_panes = "D6"
    ws.append(
        [
            st.cell(
                ws, "Мониторинг системы обеспечения профессионального развития педагогических работников", font=st.title
            )
        ]
    )
    # Codes of the region and the campaigns are not shown: the campaign by its title, the previous one as such.
    prev = "; изменения — по сравнению с предыдущей кампанией" if info.previous_code else ""
    ws.append([f"Кампания «{info.title}», проведена {info.held_on:%d.%m.%Y}{prev}"])
    ws.append([])
    head1: list[Any] = [
        st.cell(ws, h, font=st.bold, fill=st.header_fill, align=st.wrap, border=st.border)
        for h in ("№", "Код муниципалитета", "Муниципалитет")
    ]
    head2: list[Any] = [st.cell(ws, None, fill=st.header_fill, border=st.border) for _ in range(3)]
    for s in Step:
        head1.append(st.cell(ws, STEP_LABELS_RU[s], font=st.bold, fill=st.header_fill, align=st.wrap, border=st.border))
        head1.append(st.cell(ws, None, fill=st.header_fill, border=st.border))
        head2.append(st.cell(ws, f"баллы (из {STEP_MAX[s]})", fill=st.header_fill, align=st.wrap, border=st.border))
        head2.append(st.cell(ws, "%", fill=st.header_fill, align=st.wrap, border=st.border))
    for h in ("Итого", None, "Уровень", "Изменение итога"):
        head1.append(st.cell(ws, h, font=st.bold, fill=st.header_fill, align=st.wrap, border=st.border))
    for h in (f"баллы (из {TOTAL_MAX})", "%", None, "баллы"):
        head2.append(st.cell(ws, h, fill=st.header_fill, align=st.wrap, border=st.border))
    ws.append(head1)
    ws.append(head2)
    for i, m in enumerate(a.municipalities, start=1):
        row: list[Any] = [i, st.cell(ws, m.municipality), st.cell(ws, m.name or NO_NAME)]
        for s in Step:
            fill = st.fills[m.bands[s]]
            row.append(st.cell(ws, _pts(m.points[s]), fill=fill, border=st.border))
            row.append(st.cell(ws, round_half_up(m.percents[s]), fill=fill, fmt="0.0", border=st.border))
        fill = st.fills[m.band]
        row.append(st.cell(ws, _pts(m.total), fill=fill, font=st.bold, border=st.border))
        row.append(st.cell(ws, round_half_up(m.total_percent), fill=fill, font=st.bold, fmt="0.0", border=st.border))
        row.append(st.cell(ws, band_row(m.band).label, fill=fill, border=st.border))
        row.append(st.cell(ws, _delta_text(m), fmt="+0.0#;-0.0#;0", border=st.border))
        ws.append(row)
    footer: list[Any] = [None, None, st.cell(ws, "Среднее по региону", font=st.bold)]
    for summary in a.steps:
        fill = st.fills[summary.band]
        footer.append(st.cell(ws, _pts(summary.average_points), fill=fill, font=st.bold, border=st.border))
        footer.append(st.cell(ws, round_half_up(summary.percent), fill=fill, font=st.bold, fmt="0.0", border=st.border))
    if a.average_total is not None and a.band is not None:
        fill = st.fills[a.band]
        footer.append(st.cell(ws, _pts(a.average_total), fill=fill, font=st.bold, border=st.border))
        footer.append(
            st.cell(
                ws,
                round_half_up(a.average_total * 100 / TOTAL_MAX),
                fill=fill,
                font=st.bold,
                fmt="0.0",
                border=st.border,
            )
        )
        footer.append(st.cell(ws, band_row(a.band).label, fill=fill, font=st.bold, border=st.border))
        if a.previous_average_total is not None:
            footer.append(
                st.cell(
                    ws,
                    _pts(a.average_total - a.previous_average_total),
                    fmt="+0.0#;-0.0#;0",
                    font=st.bold,
                    border=st.border,
                )
            )
    ws.append(footer)
    ws.append([])
    ws.append(
        [st.cell(ws, "Уровни (по итогу)", font=st.bold), None, st.cell(ws, "Число муниципалитетов", font=st.bold)]
    )
    for b in BANDS:
        ws.append([None, st.cell(ws, b.label, fill=st.fills[b.band]), a.band_counts.get(b.band, 0)])


def _deficits_sheet(wb: Workbook, a: Analysis, st: _Styles) -> None:
    ws = wb.create_sheet("Дефициты")
    ws.column_dimensions["B"].width = 40
    ws.append([st.cell(ws, "Дефициты региона: шаги управленческого цикла от слабого к сильному", font=st.title)])
    ws.append([])
    ws.append(
        [
            st.cell(ws, h, font=st.bold, fill=st.header_fill, align=st.wrap, border=st.border)
            for h in (
                "Ранг",
                "Шаг",
                "Макс. баллов",
                "Средний балл",
                "%",
                "Уровень",
                f"МО ниже {WEAK_STEP_BELOW}%",
                "Изменение, п.п.",
            )
        ]
    )
    top = {s.step for s in a.top_deficits}
    for summary in sorted(a.steps, key=lambda x: x.rank):
        fill = st.fills[summary.band]
        font = st.bold if summary.step in top else None
        ws.append(
            [
                st.cell(ws, summary.rank, font=font),
                st.cell(ws, STEP_LABELS_RU[summary.step], font=font),
                STEP_MAX[summary.step],
                st.cell(ws, _pts(summary.average_points), fill=fill),
                st.cell(ws, round_half_up(summary.percent), fill=fill, fmt="0.0"),
                st.cell(ws, band_row(summary.band).label, fill=fill),
                summary.below_30,
                st.cell(ws, round_half_up(summary.delta) if summary.delta is not None else None, fmt="+0.0;-0.0;0"),
            ]
        )
    ws.append([])
    ws.append(
        [st.cell(ws, "Главные дефициты: " + "; ".join(STEP_LABELS_RU[s.step] for s in a.top_deficits), font=st.bold)]
    )


def _brief_rows(ws: WriteOnlyWorksheet, st: _Styles, items: Sequence[MunicipalityResult], reasons: bool) -> None:
    heads = ["Код муниципалитета", "Муниципалитет", "Итого баллов", "%", "Уровень"] + (["Причины"] if reasons else [])
    ws.append([st.cell(ws, h, font=st.bold, fill=st.header_fill, border=st.border) for h in heads])
    if not items:
        ws.append([None, "нет"])
    for m in items:
        fill = st.fills[m.band]
        row: list[Any] = [
            st.cell(ws, m.municipality),
            st.cell(ws, m.name or NO_NAME),
            st.cell(ws, _pts(m.total), fill=fill),
            st.cell(ws, round_half_up(m.total_percent), fill=fill, fmt="0.0"),
            st.cell(ws, band_row(m.band).label, fill=fill),
        ]
        if reasons:
            row.append(st.cell(ws, "; ".join(self_audit_reasons(m))))
        ws.append(row)


def _self_audit_sheet(wb: Workbook, a: Analysis, st: _Styles) -> None:
    ws = wb.create_sheet("Самоаудит")
    ws.column_dimensions["B"].width = 34
    ws.column_dimensions["F"].width = 70
    ws.append(
        [
            st.cell(
                ws,
                f"Муниципалитеты, которым необходим самоаудит (итог ниже {SELF_AUDIT_BELOW}% "
                f"или шаг ниже {WEAK_STEP_BELOW}%)",
                font=st.title,
            )
        ]
    )
    _brief_rows(ws, st, a.needing_self_audit, reasons=True)
    ws.append([])
    ws.append([st.cell(ws, f"Не вовлечены в мониторинг (итог ниже {ENGAGED_FROM}%)", font=st.title)])
    _brief_rows(ws, st, a.not_engaged, reasons=False)
    ws.append([])
    ws.append([st.cell(ws, f"Лидеры (итог {band_row(LEADER_BAND).from_percent}% и выше)", font=st.title)])
    _brief_rows(ws, st, a.leaders, reasons=False)


def _chart_sheet(wb: Workbook, a: Analysis, st: _Styles) -> None:
    ws = wb.create_sheet("Диаграмма")
    ws.column_dimensions["A"].width = 40
    ws.append([st.cell(ws, "Шаг", font=st.bold), st.cell(ws, "% от максимума", font=st.bold)])
    for summary in a.steps:
        ws.append(
            [
                STEP_LABELS_RU[summary.step],
                st.cell(ws, round_half_up(summary.percent), fill=st.fills[summary.band], fmt="0.0"),
            ]
        )
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Средний процент по шагам управленческого цикла"
    chart.y_axis.title = "%"
    chart.y_axis.scaling.min = 0
    chart.y_axis.scaling.max = 100
    chart.height = 10
    chart.width = 22
    chart.legend = None
    n = len(a.steps)
    chart.add_data(Reference(ws, min_col=2, min_row=1, max_row=n + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=n + 1))
    ws.add_chart(chart, "D2")


def build_svg(analysis: Analysis, *, title: str) -> str:
    """A horizontal bar chart of the region's percent per step, bars coloured by band, band edges marked."""
    left, right, top, bar_h, gap = 330, 60, 56, 24, 10
    plot_w = 520
    width = left + plot_w + right
    height = top + len(analysis.steps) * (bar_h + gap) + 40

    def x(pct: float) -> float:
        return left + plot_w * max(0.0, min(100.0, pct)) / 100.0

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Arial, sans-serif" font-size="13">',
        f"<title>{escape(title)}</title>",
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        f'<text x="{width / 2:.0f}" y="24" text-anchor="middle" font-size="15" font-weight="bold">'
        f"{escape(title)}</text>",
    ]
    axis_y = top + len(analysis.steps) * (bar_h + gap)
    edges = inner_edges()
    for tick in (0, *edges, 100):
        dash = ' stroke-dasharray="4 3"' if tick in edges else ""
        parts.append(
            f'<line x1="{x(tick):.1f}" y1="{top - 8}" x2="{x(tick):.1f}" y2="{axis_y}" '
            f'stroke="#888888" stroke-width="1"{dash}/>'
        )
        parts.append(f'<text x="{x(tick):.1f}" y="{axis_y + 16}" text-anchor="middle" fill="#444444">{tick}%</text>')
    for i, summary in enumerate(analysis.steps):
        y = top + i * (bar_h + gap)
        pct = round_half_up(summary.percent)
        colour = band_row(summary.band).colour
        parts.append(
            f'<text x="{left - 8}" y="{y + bar_h * 0.7:.1f}" text-anchor="end">'
            f"{escape(STEP_LABELS_RU[summary.step])}</text>"
        )
        parts.append(
            f'<rect x="{left}" y="{y}" width="{x(pct) - left:.1f}" height="{bar_h}" fill="#{colour}" '
            f'stroke="#555555" stroke-width="0.5"><title>{escape(STEP_LABELS_RU[summary.step])}: '
            f"{pct:.1f}%</title></rect>"
        )
        parts.append(f'<text x="{x(pct) + 6:.1f}" y="{y + bar_h * 0.7:.1f}">{pct:.1f}%</text>')
    parts.append("</svg>")
    return "\n".join(parts)
