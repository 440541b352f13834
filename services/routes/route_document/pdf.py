"""The printed route as PDF (A4 portrait), drawn with fpdf2 in DejaVu Serif embedded (services/routes/fonts):
Cyrillic needs a font of its own, and nothing but the Python package is installed for it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from fpdf import FPDF
from fpdf.fonts import FontFace

from services.routes.route_document.view import FONTS, Line, RouteDocument

FONT = "DejaVuSerif"
HEAD = FontFace(emphasis="BOLD", fill_color=(235, 235, 235))
GOAL_COLUMNS = (
    "№",
    "Образовательные задачи",
    "Формы работы и взаимодействия",
    "Сроки",
    "Форма предъявления результата",
)
# A fixed creation date: the same route prints to the same bytes.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class _Pdf(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.cell(0, 8, f"Страница {self.page_no()} из {{nb}}", align="C")


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(2)
    pdf.set_font(FONT, "B", 11)
    pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=10)


def _para(pdf: FPDF, text: str) -> None:
    pdf.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")


def _lines(pdf: FPDF, lines: Sequence[Line]) -> None:
    for line in lines:
        _para(pdf, line.text)


def _table(pdf: FPDF, head: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int]) -> None:
    pdf.set_font(FONT, size=8.5)
    with pdf.table(col_widths=tuple(widths), headings_style=HEAD, line_height=4.2, text_align="LEFT") as table:
        table.row(list(head))
        for r in rows:
            table.row([str(x) for x in r])
    pdf.set_font(FONT, size=10)


def render_pdf(doc: RouteDocument) -> bytes:
    pdf = _Pdf(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_font(FONT, "", str(FONTS / "DejaVuSerif.ttf"))
    pdf.add_font(FONT, "B", str(FONTS / "DejaVuSerif-Bold.ttf"))
    pdf.set_title(f"{doc.title} — {doc.teacher}")
    pdf.set_lang("ru")
    pdf.set_creation_date(EPOCH)
    pdf.add_page()
    pdf.set_font(FONT, "B", 13)
    pdf.multi_cell(0, 7, doc.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=10)
    _lines(pdf, doc.summary)
    _heading(pdf, "1. Личный профиль")
    _lines(pdf, doc.personal)
    _heading(pdf, "2. Профессиональный профиль")
    _lines(pdf, doc.professional)
    _para(pdf, "Достижения: " + ("; ".join(doc.achievements) + "." if doc.achievements else "сведения не внесены."))
    courses = "; ".join(doc.courses) + "." if doc.courses else "сведения не внесены."
    _para(pdf, "Курсы повышения квалификации за последние три года: " + courses)
    _heading(pdf, "3. Профиль компетенций")
    _lines(pdf, doc.competency)
    if doc.competencies:
        rows: list[tuple[str, ...]] = [(c.name, c.percent, c.status) for c in doc.competencies]
        _table(pdf, ("Компетенция", "Результат", "Оценка"), rows, (110, 30, 40))
    _heading(pdf, "4. Профессиональный запрос")
    _para(pdf, doc.request or "Запрос педагогом не сформулирован.")
    if doc.interests:
        _para(pdf, f"Интересы: {doc.interests}.")
    _heading(pdf, "5. Цели и задачи")
    pdf.set_font(FONT, size=8.5)
    with pdf.table(col_widths=(9, 45, 62, 24, 40), headings_style=HEAD, line_height=4.2, text_align="LEFT") as table:
        table.row(list(GOAL_COLUMNS))
        for g in doc.goals:
            table.row().cell(f"Проблема (цель) {g.number}. {g.problem}", colspan=5, style=FontFace(emphasis="BOLD"))
            for t in g.tasks:
                done = " (выполнена)" if t.done else ""
                forms = "\n".join(f"— {f}" for f in t.forms)
                table.row([t.number, f"{t.kind.capitalize()}. {t.formulation}{done}", forms, t.dates, t.result_form])
    pdf.set_font(FONT, size=10)
    if doc.mentoring:
        _para(pdf, doc.mentoring)
    _heading(pdf, "Контрольные точки")
    points: list[tuple[str, ...]] = [(p.date, p.task, p.what, p.checked_by) for p in doc.control_points]
    _table(pdf, ("Дата", "Задача", "Что предъявляется", "Кто проверяет"), points, (22, 22, 96, 40))
    _heading(pdf, "6. Рекомендации")
    for r in doc.recommendations:
        _para(pdf, f"— {r}")
    _heading(pdf, "7. Рефлексия")
    _para(pdf, doc.reflection or "Заполняется педагогом по завершении маршрута.")
    if doc.products:
        _para(pdf, "Продукты: " + "; ".join(doc.products) + ".")
    _heading(pdf, "Самопроверка по формату анализа ИОМ")
    criteria: list[tuple[str, ...]] = [(str(x.number), x.title, x.score, x.reason) for x in doc.self_check]
    _table(pdf, ("№", "Критерий", "Балл", "Обоснование"), criteria, (9, 70, 18, 83))
    _para(pdf, doc.self_check_total)
    _heading(pdf, "Согласование и утверждение")
    approvals: list[tuple[str, ...]] = [(a.step, a.who, a.when, a.comment) for a in doc.approvals]
    _table(pdf, ("Этап", "Кто", "Дата", "Комментарий"), approvals, (70, 45, 22, 43))
    return bytes(pdf.output())
