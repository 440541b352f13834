"""Route generation and self-check rules as pure functions."""

from __future__ import annotations

import copy
from datetime import date, timedelta

import pytest

from services.routes.generation import Alternative, CompetencyResult, MentorChoice, Snapshot, generate, period_key
from services.routes.reference_data import constructor
from services.routes.selfcheck import evaluate

pytestmark = pytest.mark.no_db
TODAY = date(2026, 11, 25)


def snap(group: int = 2, statuses: dict[str, str] | None = None) -> Snapshot:
    statuses = statuses or {"M1": "strength", "M2": "deficit", "M3": "deficit", "M4": "growth"}
    pct = {"deficit": 30.0, "growth": 60.0, "strength": 90.0}
    comps = tuple(
        CompetencyResult(
            code=code,
            name={"M1": "Планирование", "M2": "Технологии", "M3": "Оценивание", "M4": "Совместное решение задач"}[code],
            percent=pct[st] - (5 if code == "M3" else 0),
            status=st,
            explanation={
                "threshold": "< 50%",
                "items": [{"item": f"{code}-3", "points": 1, "max": 4, "skill": "навык"}],
            },
        )
        for code, st in statuses.items()
    )
    return Snapshot(
        teacher_id="t1",
        region="r",
        municipality="m",
        organisation="o",
        subject="mathematics",
        group=group,
        assessed_on=date(2026, 10, 1),
        competencies=comps,
        full_name="Тестова Анна Ивановна",
    )


def alt(
    rid: str, kind: str, lt: str, start: date | None = None, end: date | None = None, hours: int | None = None
) -> Alternative:
    return Alternative(
        rid, kind, f"Мероприятие {rid}", lt, "online", start, end, hours, "ЦНППМ", "подходит по компетенции", 1.0
    )


MATCHES = {
    "M2": [
        alt("c1", "course", "formal", date(2026, 12, 1), date(2026, 12, 20), 36),
        alt("w1", "event", "non_formal", date(2026, 12, 10), date(2026, 12, 10)),
        alt("k1", "community", "informal"),
        alt("late", "course", "formal", date(2028, 1, 1), date(2028, 2, 1)),
    ],
    "M3": [
        alt("p1", "internship", "non_formal", date(2027, 2, 1), date(2027, 2, 15)),
        alt("s1", "self_study", "informal"),
    ],
}


class TestGenerate:
    def test_every_deficit_gets_a_learning_and_a_practice_task_weakest_first(self) -> None:
        content = generate(snap(), MATCHES, None, TODAY)
        goals = content["sections"]["goals"]
        assert [g["competency"] for g in goals] == ["M3", "M2"]
        for g in goals:
            assert [t["kind"] for t in g["tasks"]] == ["learning", "practice_change"]

    def test_each_goal_explains_its_deficit_items_and_each_task_its_rule(self) -> None:
        goal = generate(snap(), MATCHES, None, TODAY)["sections"]["goals"][0]
        task = goal["tasks"][0]
        assert task["reason"]["deficit"] == "M3"
        assert "«Оценивание»" in goal["reason"]["explanation"]
        assert "набрано 1 из 4 баллов" in goal["reason"]["explanation"]
        assert "группа поддержки 2" in task["reason"]["rule"]

    def test_forms_are_events_inside_the_route_period_with_a_mix_of_learning_types(self) -> None:
        goals = generate(snap(), MATCHES, None, TODAY)["sections"]["goals"]
        m2_learning = next(g for g in goals if g["competency"] == "M2")["tasks"][0]
        ids = [f["resource_id"] for f in m2_learning["forms"]]
        assert "late" not in ids
        assert {f["learning_type"] for f in m2_learning["forms"]} == {"formal", "non_formal", "informal"}

    def test_group_1_runs_six_months_with_a_mentor(self) -> None:
        content = generate(snap(group=1), MATCHES, MentorChoice("mentor-7", "Наставник", "тот же округ"), TODAY)
        assert content["period"] == {"start": "2026-11-25", "end": "2027-05-25", "months": 6}
        assert content["mentoring"]["mentor_id"] == "mentor-7"
        assert content["mentoring"]["programme_years"] == [1, 3]

    def test_group_1_without_a_free_mentor_says_why(self) -> None:
        content = generate(snap(group=1), MATCHES, MentorChoice(None, None, "нет наставников по предмету"), TODAY)
        assert content["mentoring"]["mentor_id"] is None
        assert any("нет наставников по предмету" in r["text"] for r in content["sections"]["recommendations"])

    def test_higher_groups_get_a_shorter_period_and_no_mentor(self) -> None:
        content = generate(snap(group=3), MATCHES, None, TODAY)
        assert content["period"]["months"] == 3 and content["mentoring"] is None

    def test_without_deficits_growth_points_become_goals(self) -> None:
        content = generate(snap(statuses={"M1": "strength", "M4": "growth"}), {}, None, TODAY)
        assert [g["competency"] for g in content["sections"]["goals"]] == ["M4"]

    def test_strengths_become_peer_learning_recommendations(self) -> None:
        recs = generate(snap(), MATCHES, None, TODAY)["sections"]["recommendations"]
        assert any(r["reason"].get("strength") == "M1" for r in recs)

    def test_result_forms_come_from_the_task_constructor(self) -> None:
        cons = constructor()
        for g in generate(snap(), MATCHES, None, TODAY)["sections"]["goals"]:
            for t in g["tasks"]:
                assert cons.result_form_fits(t["kind"], t["result_form"])

    def test_generation_is_deterministic(self) -> None:
        assert generate(snap(), MATCHES, None, TODAY) == generate(snap(), MATCHES, None, TODAY)

    def test_period_key_is_the_half_year(self) -> None:
        assert period_key(date(2026, 6, 30)) == "2026-H1" and period_key(date(2026, 7, 1)) == "2026-H2"


class TestSelfCheck:
    def content(self) -> dict:
        return generate(snap(), MATCHES, None, TODAY)

    def test_generated_route_scores_well_on_machine_criteria(self) -> None:
        result = evaluate(self.content())
        auto = {c["number"]: c["score"] for c in result["criteria"] if c["auto"]}
        assert auto[1] == 2 and auto[4] == 2 and auto[9] == 2
        assert result["total"] is None  # people have not scored 2, 3, 5, 7, 10 yet

    def test_people_scores_complete_the_total(self) -> None:
        result = evaluate(self.content(), {2: 2, 3: 1, 5: 2, 7: 2, 10: 1})
        assert result["total"] == result["auto_total"] + 8

    def test_missing_practice_tasks_score_zero_on_criterion_4(self) -> None:
        c = self.content()
        for g in c["sections"]["goals"]:
            g["tasks"] = [t for t in g["tasks"] if t["kind"] == "learning"]
        crit = {x["number"]: x for x in evaluate(c)["criteria"]}
        assert crit[4]["score"] == 0

    def test_forms_without_events_lower_criterion_6(self) -> None:
        c = copy.deepcopy(self.content())
        for g in c["sections"]["goals"]:
            for t in g["tasks"]:
                t["forms"] = [{"resource_id": None, "title": "направление: повышение квалификации"}]
        crit = {x["number"]: x for x in evaluate(c)["criteria"]}
        assert crit[6]["score"] == 0

    def test_result_form_of_the_wrong_kind_lowers_criterion_9(self) -> None:
        c = self.content()
        c["sections"]["goals"][0]["tasks"][0]["result_form"] = "Проведение мастер-классов"  # a practice form
        crit = {x["number"]: x for x in evaluate(c)["criteria"]}
        assert crit[9]["score"] == 1

    def test_uncovered_deficit_lowers_criterion_1(self) -> None:
        c = self.content()
        c["sections"]["goals"] = c["sections"]["goals"][:1]
        crit = {x["number"]: x for x in evaluate(c)["criteria"]}
        assert crit[1]["score"] == 1 and "без задач" in crit[1]["reason"]

    def test_too_short_tasks_make_dates_unrealistic(self) -> None:
        c = self.content()
        for g in c["sections"]["goals"]:
            for t in g["tasks"]:
                t["ends_on"] = (date.fromisoformat(t["starts_on"]) + timedelta(days=3)).isoformat()
        crit = {x["number"]: x for x in evaluate(c)["criteria"]}
        assert crit[8]["score"] < 2
