"""The route as a document people trust (issue 13, points 2-6): correct Russian by construction, one
constructor row per task, reasons as distinct facts, control points by the group, an honest self-check.

The grammar is checked with pymorphy3 (OpenCorpora tags): the object after each constructor verb is in the
case that verb governs; adjectives agree with their noun."""

from __future__ import annotations

import itertools
import json
import re
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pymorphy3
import pytest

from services.audit.clients import SelfCheckWire
from services.routes.generation import Alternative, CompetencyResult, MentorChoice, Snapshot, generate
from services.routes.labels import SUBJECT_LABELS
from services.routes.periods import add_months
from services.routes.reasons import FormFacts, form_reasons
from services.routes.reference_data import Formulation, constructor, generation_rules
from services.routes.selfcheck import AUTO_CRITERIA, evaluate
from services.routes.support_groups import group_rules
from tests.routes.test_generation_rules import MATCHES, TODAY, snap

pytestmark = pytest.mark.no_db

FRAMEWORK = Path(__file__).parents[2] / "services" / "assessment" / "data" / "default_framework.json"
GROUPS = (1, 2, 3, 4)
SUBJECTS: tuple[str | None, ...] = (*SUBJECT_LABELS, None)
# What each verb of the constructor governs (written down here, independently of the data).
GOVERNS = {
    "изучить": "accs",
    "освоить": "accs",
    "применять": "accs",
    "оценивать": "accs",
    "внедрить": "accs",
    "разрабатывать": "accs",
    "использовать": "accs",
}
# Verbs that take another verb («научиться применять»): the object belongs to the verb they take.
TAKES_A_VERB = frozenset({"научиться", "стать"})
ACRONYMS = frozenset({"PISA", "PIRLS", "TIMSS"})
PLACEHOLDERS = ("…", "...", "и др.", "и т.п.", "и т. п.", "{", "}", "?)", "(мероприятий)", "/")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


@cache
def morph() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer()


@cache
def framework_competencies() -> tuple[CompetencyResult, ...]:
    raw = json.loads(FRAMEWORK.read_text(encoding="utf-8"))
    return tuple(
        CompetencyResult(
            code=c["code"],
            name=c["name"],
            percent=30.0,
            status="deficit",
            area=c.get("area", ""),
            explanation={
                "threshold": "50%",
                "items": [{"item": "1", "points": 0, "max": 2, "skill": s} for s in c.get("skills", [])[:2]],
            },
        )
        for c in raw["competencies"]
    )


def words(text: str) -> list[str]:
    return re.findall(r"[А-Яа-яЁё-]+", text)


def can_be(word: str, case: str, pos: frozenset[str] = frozenset({"NOUN", "ADJF", "PRTF"})) -> bool:
    return any(p.tag.POS in pos and p.tag.case == case for p in morph().parse(word))


def content_word(word: str) -> bool:
    return any(p.tag.POS in {"NOUN", "ADJF", "PRTF"} for p in morph().parse(word)[:1])


def grammar_problems(f: Formulation) -> list[str]:
    """The object's words are in the case the verb governs (then genitive attributes); adjectives agree."""
    problems = []
    verb_words = words(f.verb)
    infinitives = [
        i
        for i, w in enumerate(verb_words)
        if any(p.tag.POS == "INFN" for p in morph().parse(w)) and morph().parse(w)[0].normal_form not in TAKES_A_VERB
    ]
    if not infinitives:
        return [f"«{f.verb}»: no verb"]
    governed = {GOVERNS.get(morph().parse(verb_words[i])[0].normal_form) for i in infinitives}
    if len(governed) != 1 or None in governed:
        return [f"«{f.verb}»: add the government of its verbs to GOVERNS"]
    (case,) = governed
    tail = verb_words[infinitives[-1] + 1 :]
    if tail and morph().parse(tail[0])[0].tag.POS != "PREP":
        case = "gent"  # the verb's own object is in the verb phrase; what follows it is its genitive attribute
    for i, (text, declared) in enumerate(f.object):
        want = case if i == 0 else "gent"
        if declared != want:
            problems.append(f"«{text}» is declared {declared}, the grammar wants {want}")
        ws = [w for w in words(text) if w != "и" and content_word(w)]
        for w in ws:
            if not can_be(w, want):
                problems.append(f"«{f.verb} … {w}»: «{w}» is not {want}")
        for adj, noun in itertools.pairwise(ws):
            adj_parses = [p for p in morph().parse(adj) if p.tag.POS == "ADJF" and p.tag.case == want]
            noun_parses = [p for p in morph().parse(noun) if p.tag.POS == "NOUN" and p.tag.case == want]
            if adj_parses and not any(p.tag.POS == "NOUN" for p in morph().parse(adj)[:1]) and noun_parses:
                if not {p.tag.number for p in adj_parses} & {p.tag.number for p in noun_parses}:
                    problems.append(f"«{adj} {noun}»: number does not agree")
    return problems


def text_problems(text: str) -> list[str]:
    found = [f"placeholder {p!r}" for p in PLACEHOLDERS if p in text]
    found += [f"Latin word {w!r}" for w in LATIN_WORD.findall(text) if w not in ACRONYMS]
    clauses = [c.strip().lower() for c in text.split(";") if c.strip()]
    if len(clauses) != len(set(clauses)):
        found.append("a repeated clause")
    return found


def readable_texts(content: dict[str, Any]) -> list[str]:
    """Every text of a route a person reads."""
    s = content["sections"]
    out = [content["review"], *(r["text"] for r in s["recommendations"])]
    out += [str(r["reason"].get("rule", "")) for r in s["recommendations"]]
    for g in s["goals"]:
        out += [g["problem"], g["reason"]["explanation"], g["reason"]["rule"]]
        for t in g["tasks"]:
            out += [t["formulation"], t["result_form"], t["reason"]["rule"], t["control_point"]["what"]]
            out += [f["reason"] for f in t["forms"]]
    out += [p["what"] for p in content["control_points"]] + [p["checked_by"] for p in content["control_points"]]
    if content["mentoring"]:
        out.append(content["mentoring"]["reason"])
    return [t for t in out if t]


def snapshot(group: int, subject: str | None, comps: tuple[CompetencyResult, ...]) -> Snapshot:
    return Snapshot("t1", "r", "m1", "o", subject, group, date(2026, 10, 1), comps, full_name="Тестова Анна")


def offered(rid: str, mode: str = "online", hours: int = 24, **kw: Any) -> Alternative:
    return Alternative(rid, "course", f"Курс {rid}", "formal", mode, date(2026, 12, 1), date(2026, 12, 20), hours, **kw)


class TestGrammarByConstruction:
    def test_every_constructor_formulation_puts_its_object_in_the_case_its_verb_governs(self) -> None:
        cons = constructor()
        problems = [
            p
            for kind in ("learning", "practice_change")
            for row in cons.rows(kind)
            for f in row.offered
            for p in grammar_problems(f)
        ]
        assert problems == []

    def test_the_checker_catches_the_old_mistake(self) -> None:
        wrong = Formulation("Научиться оценивать результативность применения", (("приемы и методы", "accs"),))
        assert grammar_problems(wrong)  # «применения приемы» was the bug of issue 13

    def test_every_row_x_competency_x_group_x_subject_renders_clean_russian(self) -> None:
        cons, templates = constructor(), generation_rules()["task_templates"]
        comps = framework_competencies()
        checked = 0
        for kind in ("learning", "practice_change"):
            for row in cons.rows(kind):
                for f in row.offered:
                    for c in comps:
                        text = templates[kind].format(verb=f.verb, object=f.object_text, competency=c.name, focus="")
                        assert text.startswith(f"{f.verb} {f.object_text} "), text
                        assert text_problems(text) == [], text
                        for i in range(len(row.offered_result_forms)):
                            form = row.offered_result_forms[i].format(competency=c.name)
                            assert text_problems(form) == [], form
                        checked += 1
        assert checked >= 7 * len(comps)
        for group in GROUPS:
            for subject in SUBJECTS:
                content = generate(snapshot(group, subject, comps), {}, None, TODAY)
                for text in readable_texts(content):
                    assert text_problems(text) == [], text

    def test_a_route_without_a_subject_names_none(self) -> None:
        content = generate(snapshot(2, None, framework_competencies()[:4]), {}, None, TODAY)
        assert all("«»" not in g["problem"] and "профилю" not in g["problem"] for g in content["sections"]["goals"])


class TestConstructorIsConsistent:
    @pytest.mark.parametrize("group", GROUPS)
    def test_verb_object_and_result_form_of_a_task_come_from_the_row_the_group_names(self, group: int) -> None:
        cons = constructor()
        picks = generation_rules()["groups"][str(group)]["tasks"]
        content = generate(snapshot(group, "mathematics", framework_competencies()), {}, None, TODAY)
        for g in content["sections"]["goals"]:
            for t in g["tasks"]:
                row = cons.rows(t["kind"])[picks[t["kind"]]["row"]]
                f = row.offered[picks[t["kind"]]["formulation"]]
                assert t["formulation"].startswith(f"{f.verb} {f.object_text} ")
                forms = {x.format(competency=g["competency_name"]) for x in row.offered_result_forms}
                assert t["result_form"] in forms

    def test_groups_name_rows_not_verbs(self) -> None:
        for group in GROUPS:
            data = generation_rules()["groups"][str(group)]
            assert "learning_verb" not in data and "practice_verb" not in data
            rules = group_rules(group)
            assert [t.kind for t in rules.tasks] == ["learning", "practice_change"]

    def test_no_offered_result_form_keeps_a_placeholder_of_the_source(self) -> None:
        cons = constructor()
        for kind in ("learning", "practice_change"):
            for row in cons.rows(kind):
                for form in row.offered_result_forms:
                    assert text_problems(form.replace("{competency}", "Геометрия")) == [], form
        # The source's placeholders are kept as extracted, but never offered.
        source = {f for k in ("learning", "practice_change") for r in cons.rows(k) for f in r.result_forms}
        assert "Организация … (мероприятий)" in source and "Пробы…" in source
        assert not ({"Организация … (мероприятий)", "Пробы…", "и др."} & cons.result_forms("learning"))


class TestReasons:
    def test_a_form_says_which_deficit_why_the_level_where_and_seats_each_once(self) -> None:
        alts = {
            "M2": [
                offered(
                    "c1", "in_person", municipalities=("m1",), free=4, level_fit=True, reason="Закрывает дефицит M2"
                )
            ]
        }
        comps = tuple(c for c in framework_competencies() if c.code == "M2")
        content = generate(snapshot(2, "mathematics", comps), alts, None, TODAY, {"m1": "Городской округ Северный"})
        form = content["sections"]["goals"][0]["tasks"][0]["forms"][0]
        assert form["reasons"] == [
            "закрывает дефицит «Разработка и применение современных психолого-педагогических технологий обучения»",
            "рекомендована для группы поддержки 2 (базовый уровень)",
            "проводится очно: муниципалитет «Городской округ Северный»",
            "свободных мест: 4",
        ]
        assert form["reason"] == "; ".join(form["reasons"]) and "M2" not in form["reason"]

    def test_online_and_any_level(self) -> None:
        facts = FormFacts("online", (), None, False)
        assert form_reasons("Геометрия", facts, 1, "m1") == [
            "закрывает дефицит «Геометрия»",
            "подходит педагогам любого уровня",
            "проводится онлайн",
        ]

    def test_an_unnamed_municipality_is_said_in_words_not_as_a_code(self) -> None:
        facts = FormFacts("in_person", ("m9",), 0, None)
        reasons = form_reasons("Геометрия", facts, 3, "m1")
        assert reasons[1:] == ["проводится очно: соседний муниципалитет", "свободных мест нет"]
        assert not any("m9" in r for r in reasons)


class TestControlPoints:
    def content(self, group: int, mentor: MentorChoice | None = None) -> dict[str, Any]:
        return generate(snap(group=group), MATCHES, mentor, TODAY)

    def test_group_1_has_one_every_month_checked_by_the_mentor_by_name(self) -> None:
        content = self.content(1, MentorChoice("m-7", "Петрова Анна Ивановна", "тот же округ"))
        start = date.fromisoformat(content["period"]["start"])
        dates = sorted(date.fromisoformat(p["date"]) for p in content["control_points"])
        for m in range(1, 7):
            assert any(add_months(start, m - 1) < d <= add_months(start, m) for d in dates), m
        assert {p["checked_by"] for p in content["control_points"]} == {"наставник (Петрова Анна Ивановна)"}

    def test_group_2_has_one_at_least_every_two_months(self) -> None:
        content = self.content(2)
        start = date.fromisoformat(content["period"]["start"])
        dates = sorted(date.fromisoformat(p["date"]) for p in content["control_points"])
        for m in range(2, content["period"]["months"] + 1, 2):
            assert any(add_months(start, m - 2) < d <= add_months(start, m) for d in dates), m
        assert {p["checked_by"] for p in content["control_points"]} == {"тьютор"}

    @pytest.mark.parametrize("group", GROUPS)
    def test_each_says_when_what_and_who_for_a_task_of_the_route(self, group: int) -> None:
        content = self.content(group)
        tasks = {t["id"] for g in content["sections"]["goals"] for t in g["tasks"]}
        points = content["control_points"]
        assert points and [p["date"] for p in points] == sorted(p["date"] for p in points)
        for p in points:
            assert set(p) == {"date", "task_id", "what", "checked_by"}
            date.fromisoformat(p["date"])
            assert p["task_id"] in tasks and p["what"] and p["checked_by"]
        ends = {(t["id"], t["ends_on"]) for g in content["sections"]["goals"] for t in g["tasks"]}
        assert ends <= {(p["task_id"], p["date"]) for p in points}  # every task ends with its result


class TestHonestSelfCheck:
    def test_what_people_judge_is_not_scored_by_the_machine(self) -> None:
        result = evaluate(generate(snap(), MATCHES, None, TODAY))
        for c in result["criteria"]:
            assert c["auto"] == (c["number"] in AUTO_CRITERIA)
            if not c["auto"]:
                assert c["score"] is None and c["scored"] is False and c["reason"]
        assert result["total"] is None
        SelfCheckWire.model_validate(result)  # what the audit reads

    def test_a_deficit_the_resource_map_has_nothing_for_loses_points(self) -> None:
        matches = {"M2": MATCHES["M2"]}  # nothing for M3
        result = evaluate(generate(snap(), matches, None, TODAY))
        six = result["criteria"][5]
        assert six["score"] == 1 and "«Оценивание»" in six["reason"] and "ни одной формы" in six["reason"]
        assert result["auto_total"] < result["auto_max"]

    def test_a_task_with_no_result_form_loses_points(self) -> None:
        content = generate(snap(), MATCHES, None, TODAY)
        content["sections"]["goals"][0]["tasks"][1]["result_form"] = ""
        nine = evaluate(content)["criteria"][8]
        assert nine["score"] == 1 and "нет формы предъявления результата" in nine["reason"]

    def test_more_hours_than_the_months_allow_loses_points(self) -> None:
        long = {"M2": [offered("c9", hours=400)], "M3": [offered("c8", hours=300)]}
        eight = evaluate(generate(snap(), long, None, TODAY))["criteria"][7]
        assert eight["score"] < 2 and "не помещаются" in eight["reason"]

    def test_without_deficits_in_the_profile_criterion_1_is_left_to_a_person(self) -> None:
        content = generate(snap(), MATCHES, None, TODAY)
        content["sections"]["competency_profile"]["deficits"] = []
        one = evaluate(content)["criteria"][0]
        assert one["score"] is None and one["scored"] is False
