"""Every text of every demo route reads as a methodologist would write it (issue 13, "Done when"; point 1).

The demo region (deploy/demo.py) is loaded through the gateway as `make run` loads it; the routes the services
generate from its results are read as the API answers them, and printed: every route as HTML, a sample of each
support group as DOCX and PDF. (The demo's monthly exports are scanned by
tests/routes/test_exports.py::TestTheDemoExportReadsAsADocument.) In every text meant for a person:

- no Latin-script word (codes, enum values, English) but the established acronyms in `ACRONYMS`;
- no code where a name exists: the demo's municipality and school codes, the framework's competency codes,
  the teachers' external ids, subject codes, route and competency statuses, kinds of tasks and forms;
- no template placeholder of the source («…», «...», «и др.», «Организация … (мероприятий)», «Пробы…») and no
  unfilled {brace} or empty «» / ();
- no phrase said twice: within one field (its clauses, split at «;» and at the end of a sentence), within one
  list (the same item twice), case-insensitive, and no word said again right after a label or a name's opening
  quote («Предъявление результата: предъявление…», «Профессиональное сообщество «Сетевое сообщество…»»);
- no machine format: ISO dates, «50.0%», «0 из 0», quotes in quotes of the same kind («…«…»»);
- counts agree with their number («в 1 из 1 цели», not «целей»), and no phrase of `WRONG_PHRASES`.

Which fields of the content are for people follows the schema services/routes/route_document/model.py:
`MACHINE_FIELDS` below are ids, codes standing beside their names, ISO dates, links and enum-like fields
(the print writes them in words: tests/routes/test_route_document.py); every other string is read."""

from __future__ import annotations

import asyncio
import html
import io
import json
import re
from collections.abc import Iterator
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import docx
import httpx
import pymorphy3
import pypdf
import pytest

from deploy import demo
from services.routes.labels import KIND_RU, STATUS_COMP_RU, STATUS_RU, SUBJECT_LABELS
from services.routes.route_document.view import CATEGORY_RU, FORM_KIND_RU, LEARNING_TYPE_RU, MODE_RU
from tests.harness import Stack

FRAMEWORK = Path(__file__).parents[2] / "services" / "assessment" / "data" / "default_framework.json"

# Fields of the route's content (route_document/model.py) and self-check that are not read as text.
MACHINE_FIELDS = frozenset(
    {
        # ids
        "id",
        "task_id",
        "resource_id",
        "chosen_resource_id",
        "mentor_id",
        "campaign_id",
        "result_id",
        # codes standing beside their names (competency: competency_name; the profile's school and
        # municipality: the directory's names in the print; deficits and strengths: the competencies' lines)
        "code",
        "competency",
        "deficit",
        "strength",
        "deficits",
        "strengths",
        "organisation",
        "municipality",
        "subject",
        "framework_version",
        # ISO dates and links
        "date",
        "start",
        "end",
        "starts_on",
        "ends_on",
        "url",
        # enum-like machine fields (the print names them in words)
        "status",
        "kind",
        "mode",
        "learning_type",
        "target",
        "qualification_category",
    }
)
ACRONYMS = frozenset({"PISA", "PIRLS", "TIMSS"})
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
PLACEHOLDERS = ("…", "...", "и др.", "и т.п.", "и т. п.", "(мероприятий)", "{", "}", "«»", "()", "None")
# Where a sentence ends (a dot before a space and a capital letter), so clauses can be compared.
CLAUSE_END = re.compile(r";|\.\s+(?=[А-ЯЁA-Z])")
# Machine formats where a person reads: an ISO date (people write ДД.ММ.ГГГГ), a percent with a decimal point.
MACHINE_FORMATS = {
    "ISO date": re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),
    "decimal point in a percent": re.compile(r"\d\.\d+\s?%"),
    "nothing of nothing": re.compile(r"\b0 из 0\b"),
    "quotes inside quotes of the same kind": re.compile(r"»»|««"),
}
# Phrases a methodologist would not write, and why.
WRONG_PHRASES = {"предмету «Начальные классы»": "primary school is no subject: «обучающихся начальных классов»"}
# «из N <noun>»: the noun agrees with N (из 1 цели, из 2 целей, из 21 задачи, из 11 задач).
OUT_OF = re.compile(r"\bиз (\d+) ([А-Яа-яЁё]+)")
# A word said again right after a label or a name's opening quote («Предъявление результата: предъявление…»,
# «Профессиональное сообщество «Сетевое сообщество…»): two of the same within NEAR words across «:» or «.
NEAR = 4
TOKEN = re.compile(r"[А-Яа-яЁёA-Za-z]+|[:«]")
SAMPLE_PER_GROUP = 2  # routes of each support group printed as DOCX and PDF


def known_codes() -> frozenset[str]:
    """Codes and enum values of the demo that must never stand where a person reads."""
    data = demo.region_data()
    framework = json.loads(FRAMEWORK.read_text(encoding="utf-8"))
    codes = {m["code"] for m in data["municipalities"]} | {o["code"] for o in data["organisations"]}
    codes |= {t["external_id"] for t in data["teachers"]} | {c["code"] for c in framework["competencies"]}
    codes |= {*SUBJECT_LABELS, *STATUS_RU, *STATUS_COMP_RU, *KIND_RU, *FORM_KIND_RU, *CATEGORY_RU}
    codes |= {*LEARNING_TYPE_RU, *MODE_RU, "in_person", demo.REGION}
    return frozenset(codes)


CODES = known_codes()
CODE_PATTERN = re.compile(
    r"(?<![\w-])(" + "|".join(sorted(map(re.escape, CODES), key=len, reverse=True)) + r")(?![\w-])"
)


def squeeze(text: str) -> str:
    return " ".join(text.split())


def clauses(text: str) -> list[str]:
    return [c.strip(" .").lower() for c in CLAUSE_END.split(squeeze(text)) if c.strip(" .")]


def repeated(items: list[str]) -> list[str]:
    seen: set[str] = set()
    twice = []
    for item in items:
        key = squeeze(item).lower().rstrip(".")
        if key in seen:
            twice.append(item)
        seen.add(key)
    return twice


@cache
def morph() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer()


def disagreeing_counts(text: str) -> list[str]:
    found = []
    for number, noun in OUT_OF.findall(text):
        n = int(number)
        want = "sing" if n % 10 == 1 and n % 100 != 11 else "plur"
        parses = [p for p in morph().parse(noun.lower()) if p.tag.POS == "NOUN"]
        if parses and not any(p.tag.case == "gent" and p.tag.number == want for p in parses):
            found.append(f"«из {number} {noun}»")
    return found


def said_again(text: str) -> list[str]:
    tokens = [t.lower().replace("ё", "е") for t in TOKEN.findall(text)]
    found = []
    for i, word in enumerate(tokens):
        if len(word) < 5:
            continue
        window = tokens[i + 1 :]
        words_seen = 0
        for j, other in enumerate(window):
            if other in (":", "«"):
                continue
            words_seen += 1
            if words_seen > NEAR:
                break
            if other == word and any(t in (":", "«") for t in window[:j]):
                found.append(word)
    return found


def faults(text: str) -> list[str]:
    """What in one text meant for a person is not what a methodologist would write (see the docstring)."""
    found = [f"Latin word {w!r}" for w in LATIN_WORD.findall(text) if w not in ACRONYMS]
    found += [f"code {c!r}" for c in CODE_PATTERN.findall(text)]
    found += [f"placeholder {p!r}" for p in PLACEHOLDERS if p in text]
    found += [f"{what}: {m.group(0)!r}" for what, pattern in MACHINE_FORMATS.items() for m in pattern.finditer(text)]
    found += [f"{why}: {phrase!r}" for phrase, why in WRONG_PHRASES.items() if phrase in text]
    found += [f"count does not agree: {c}" for c in disagreeing_counts(text)]
    found += [f"said twice: {c!r}" for c in repeated(clauses(text))]
    found += [f"said again after a label: {w!r}" for w in said_again(text)]
    return found


def walk(node: Any, path: str) -> Iterator[tuple[str, str | list[str]]]:
    """(where, text) for every string meant for a person, and (where, list) for every list of such strings."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key not in MACHINE_FIELDS:
                yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        strings = [x for x in node if isinstance(x, str)]
        if strings:
            yield path, strings
        for i, x in enumerate(node):
            yield from walk(x, f"{path}[{i}]")
    elif isinstance(node, str) and node:
        yield path, node


def list_faults(where: str, items: list[Any]) -> list[str]:
    """The same item twice in one list: a string, or the same text of list items (goals, tasks, advice)."""
    out = [f"{where}: said twice in the list: {x!r}" for x in repeated([x for x in items if isinstance(x, str)])]
    for key in ("problem", "formulation", "text", "title"):
        texts = [x[key] for x in items if isinstance(x, dict) and isinstance(x.get(key), str) and x[key]]
        out += [f"{where}[].{key}: said twice in the list: {x!r}" for x in repeated(texts)]
    points = [(x.get("task_id"), x.get("date"), x.get("what")) for x in items if isinstance(x, dict) and "what" in x]
    out += [f"{where}: the same control point twice: {p!r}" for p in {p for p in points if points.count(p) > 1}]
    return out


def route_faults(name: str, route: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    readable = {"content": route["content"], "self_check": route["self_check"]}
    for where, value in walk(readable, name):
        if isinstance(value, str):
            problems += [f"{where}: {f} in {value!r}" for f in faults(value)]

    def lists(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key not in MACHINE_FIELDS:
                    lists(value, f"{path}.{key}")
        elif isinstance(node, list):
            problems.extend(list_faults(path, node))
            for i, x in enumerate(node):
                lists(x, f"{path}[{i}]")

    lists(readable, name)
    return problems


class Blocks(HTMLParser):
    """The text of each block (cell, paragraph, list item, heading) of the HTML body, style and script left out."""

    BLOCK = frozenset({"p", "li", "td", "th", "h1", "h2", "h3", "h4", "div", "caption", "title", "tr", "dt", "dd"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.current: list[str] = []
        self.skip = 0

    def flush(self) -> None:
        text = squeeze("".join(self.current))
        if text:
            self.blocks.append(text)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self.skip += 1
        if tag in self.BLOCK or tag == "br":
            self.flush()
        self.current.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self.skip -= 1
        if tag in self.BLOCK:
            self.flush()
        self.current.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.current.append(data)


def html_blocks(body: str) -> list[str]:
    parser = Blocks()
    parser.feed(body)
    parser.close()
    parser.flush()
    return [html.unescape(b) for b in parser.blocks]


def docx_blocks(body: bytes) -> list[str]:
    d = docx.Document(io.BytesIO(body))
    blocks = [p.text for p in d.paragraphs]
    for t in d.tables:
        for row in t.rows:
            blocks += list(dict.fromkeys(c.text for c in row.cells))  # a merged cell repeats in its row
    return [squeeze(b) for b in blocks if b.strip()]


def pdf_lines(body: bytes) -> list[str]:
    """The PDF's text by line: table cells wrap, so a line is no unit of meaning; only words are checked."""
    reader = pypdf.PdfReader(io.BytesIO(body))
    return [squeeze(line) for p in reader.pages for line in p.extract_text().splitlines() if line.strip()]


def read(route: dict[str, Any], blocks: list[str]) -> list[str]:
    """The print's text, once it is known to hold the route (its teacher and the self-check sheet were read)."""
    text = " ".join(blocks)
    assert route["teacher_name"] in text and "Самопроверка по формату анализа ИОМ" in text, text[:300]
    return blocks


def print_faults(name: str, blocks: list[str], whole_blocks: bool) -> list[str]:
    problems = []
    for b in blocks:
        found = faults(b) if whole_blocks else [f for f in faults(b) if not f.startswith("said twice")]
        problems += [f"{name}: {f} in {b[:200]!r}" for f in found]
    return problems


async def demo_routes(
    live: Stack, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    for key, value in live.env.items():  # the loader signs its tokens with the stack's secret
        monkeypatch.setenv(key, value)
    tokens = await asyncio.to_thread(demo.load_if_empty, live.gateway)
    regional = {"Authorization": f"Bearer {tokens['regional_specialist']}"}
    teachers = len(demo.region_data()["teachers"])
    routes: list[dict[str, Any]] = []
    for _ in range(150):
        routes = (await api.get("/api/v1/routes", params={"limit": 500}, headers=regional)).json()["items"]
        if len(routes) >= teachers:
            break
        await asyncio.sleep(0.2)
    assert len(routes) == teachers
    return regional, routes


async def test_every_text_of_every_demo_route_and_its_print_reads_well(
    live: Stack, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    regional, summaries = await demo_routes(live, api, monkeypatch)
    problems: list[str] = []
    sampled: dict[int, int] = {}
    for summary in summaries:
        rid = summary["id"]
        route = (await api.get(f"/api/v1/routes/{rid}", headers=regional)).json()
        name = f"route {route['group']}:{route['teacher_name']}"
        problems += route_faults(name, route)
        r = await api.get(f"/api/v1/routes/{rid}/print", params={"format": "html"}, headers=regional)
        assert r.status_code == 200, r.text
        problems += print_faults(f"{name} html", read(route, html_blocks(r.text.split("<body", 1)[1])), True)
        if sampled.get(route["group"], 0) >= SAMPLE_PER_GROUP:
            continue
        sampled[route["group"]] = sampled.get(route["group"], 0) + 1
        r = await api.get(f"/api/v1/routes/{rid}/print", params={"format": "docx"}, headers=regional)
        assert r.status_code == 200, r.text
        problems += print_faults(f"{name} docx", read(route, docx_blocks(r.content)), True)
        r = await api.get(f"/api/v1/routes/{rid}/print", params={"format": "pdf"}, headers=regional)
        assert r.status_code == 200, r.text
        problems += print_faults(f"{name} pdf", read(route, pdf_lines(r.content)), False)
    assert set(sampled) == {1, 2, 3, 4}, sampled  # the demo has routes of every support group, each printed
    assert problems == [], "\n".join(problems[:80]) + f"\n... {len(problems)} in all"


@pytest.mark.no_db
class TestTheScanItself:
    """The checks find what they are meant to find (and nothing in clean Russian)."""

    def test_clean_russian_passes(self) -> None:
        text = "Изучить приёмы формирующего оценивания; провести открытый урок. Подготовить анализ PISA."
        assert faults(text) == []
        for clean in (
            "задачи есть для 1 из 1 дефицита",
            "в 3 из 4 целей",
            "у 11 из 11 задач",
            "набрано 2 из 7 баллов",
            "карты мониторинга, карты самоанализа",
            "Курс повышения квалификации «Трудные темы ЕГЭ и ОГЭ» (очно, формальное обучение), 07.12.2026",
        ):
            assert faults(clean) == [], clean

    @pytest.mark.parametrize(
        "text",
        [
            "закрывает дефицит M2",
            "Муниципалитет: mo-sever",
            "статус: draft",
            "Организация … (мероприятий)",
            "Пробы…",
            "проводится очно, и др.",
            "по направлению «{competency}»",
            "Наставник не назначен: None",
            "свободных мест нет; проводится онлайн; свободных мест нет",
            "Повторить опыт. Повторить опыт.",
            "реалистичные сроки у 0 из 0 задач",
            "задача на изменение деятельности есть в 1 из 1 целей",
            "задачи есть для 21 из 21 дефицитов",
            "дефицит «Геометрия»: 38% при пороге 50.0%",
            "нагрузка за 2026-12-07 — 2027-03-08 не помещается",
            "Предъявление результата: предъявление опыта на семинарах",
            "Курс повышения квалификации «Курс ПК «Трудные темы ЕГЭ и ОГЭ»»",
            "Профессиональное сообщество «Сетевое сообщество по геометрии»",
            "результатов обучающихся по предмету «Начальные классы»",
        ],
    )
    def test_each_fault_is_found(self, text: str) -> None:
        assert faults(text), text

    def test_a_list_with_the_same_fact_twice_is_found(self) -> None:
        assert list_faults("reasons", ["проводится онлайн", "Проводится онлайн"])
        assert list_faults("recommendations", [{"text": "Выбрать форму"}, {"text": "выбрать форму."}])
        assert not list_faults("reasons", ["проводится онлайн", "свободных мест: 4"])

    def test_machine_fields_are_left_out_and_the_rest_is_read(self) -> None:
        content = {"sections": {"goals": [{"id": "M2", "competency": "M2", "problem": "Проблема M2"}]}}
        found = route_faults("r", {"content": content, "self_check": {"criteria": []}})
        assert len(found) == 2 and all("problem" in f for f in found)  # a Latin word and a code, in the problem
