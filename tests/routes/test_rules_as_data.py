"""Each generation rule read once from services/routes/data/generation_rules.json; answers of other
services read through their models; the printed route escapes what people wrote."""

from __future__ import annotations

from datetime import date

import pydantic
import pytest

from kit.auth import Principal, Role
from kit.errors import Conflict, Forbidden, ValidationFailed
from services.routes.clients import FeedItem, MatchAnswer, snapshot_from_change
from services.routes.competency_areas import area_of
from services.routes.form_choice import pick_forms, preferred_kinds
from services.routes.generation import Alternative, generate
from services.routes.periods import add_months, route_period
from services.routes.printing import render_html
from services.routes.reference_data import generation_rules
from services.routes.selfcheck import evaluate
from services.routes.support_groups import group_rules
from services.routes.task_edits import check_task_change
from services.routes.workflow import Status
from tests.routes.test_generation_rules import MATCHES, TODAY, snap

pytestmark = pytest.mark.no_db


class TestSupportGroups:
    @pytest.mark.parametrize("group", [1, 2, 3, 4])
    def test_the_months_and_the_mentor_come_from_the_data(self, group: int) -> None:
        data = generation_rules()["groups"][str(group)]
        rules = group_rules(group)
        assert rules.months == data["months"]
        assert rules.mentor_required == (data["mentor"] == "required")
        assert generate(snap(group=group), MATCHES, None, TODAY)["period"]["months"] == data["months"]

    def test_only_group_1_requires_a_mentor(self) -> None:
        assert [g for g in (1, 2, 3, 4) if group_rules(g).mentor_required] == [1]


class TestPeriods:
    def test_a_route_runs_its_groups_months_from_the_later_of_assessment_and_today(self) -> None:
        assert route_period(1, date(2026, 10, 1), TODAY) == (TODAY, add_months(TODAY, 6))
        assert route_period(3, date(2026, 12, 1), TODAY) == (date(2026, 12, 1), date(2027, 3, 1))

    def test_month_ends_are_clamped(self) -> None:
        assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)


class TestFormChoice:
    def test_preferred_kinds_are_the_data(self) -> None:
        table = generation_rules()["preferred_kinds"]
        assert preferred_kinds("learning") == frozenset(table["learning"])
        assert preferred_kinds("practice_change") == frozenset(table["practice_change"])

    def test_a_fitting_kind_comes_first(self) -> None:
        offers = [
            Alternative("i1", "internship", "Стажировка", "formal", score=2.0),
            Alternative("c1", "course", "Курс", "formal", score=1.0),
        ]
        picked = pick_forms(offers, "learning", date(2027, 1, 1), date(2027, 3, 1), 1)
        assert [a.resource_id for a in picked] == ["c1"]


class TestCompetencyAreas:
    def test_by_code_prefix_then_declared_area_else_subject(self) -> None:
        assert area_of("M3.2") == "assessment"
        assert area_of("S1", "planning") == "planning"
        assert area_of("S1", "algebra") == "subject"


FEED_ITEM = {
    "teacher_id": "7f1c7a8e-0000-4000-8000-000000000001",
    "region": "r",
    "municipality": "m",
    "organisation": "o",
    "subject": "mathematics",
    "group": 2,
    "assessed_on": "2026-10-01",
    "full_name": "Тестова Анна",
    "campaign_id": "c-1",
    "result_id": "res-1",
    "result_version": 3,
    "percent": 57,
    "framework_code": "F",
    "framework_version": 2,
    "competencies": [
        {
            "competency": "M2",
            "name": "Технологии",
            "percent": 30,
            "band": "deficit",
            "threshold": 50,
            "items": [{"item": "M2-1", "points": 1, "max_points": 4}, {"item": "M2-2", "points": 2, "max_points": 2}],
            "skills": ["навык"],
        },
        {"competency": "M1", "band": "unknown"},
    ],
    "an_unknown_field": "ignored",
}


class TestUpstreamAnswers:
    def test_a_feed_item_becomes_a_snapshot(self) -> None:
        s = snapshot_from_change(FEED_ITEM)
        assert (s.teacher_id, s.group, s.assessed_on, s.result_version) == (
            FEED_ITEM["teacher_id"],
            2,
            date(2026, 10, 1),
            3,
        )
        assert s.total_percent == 57 and isinstance(s.total_percent, int)
        assert s.framework_version == "F v2" and s.external_id == "" and s.campaign_id == "c-1"
        m2, m1 = s.competencies
        assert (m2.status, m2.percent, m2.area_key) == ("deficit", 30.0, "technologies")
        assert m2.explanation["items"] == [{"item": "M2-1", "points": 1, "max": 4, "skill": "навык"}]
        assert m2.explanation["threshold"] == "50%"
        assert (m1.name, m1.status, m1.percent) == ("M1", "growth", 0.0)

    def test_a_malformed_item_is_refused(self) -> None:
        with pytest.raises(pydantic.ValidationError):
            snapshot_from_change({**FEED_ITEM, "group": "second"})
        with pytest.raises(pydantic.ValidationError):
            FeedItem.model_validate({k: v for k, v in FEED_ITEM.items() if k != "teacher_id"})

    def test_matching_offers_become_alternatives(self) -> None:
        answer = {
            "results": [
                {
                    "deficits": [
                        {
                            "competency": "M2",
                            "alternatives": [
                                {
                                    "id": "a1",
                                    "kind": "course",
                                    "title": "Курс",
                                    "starts_on": "",
                                    "score": 3,
                                    "reasons": ["по предмету", {"text": "рядом"}],
                                },
                            ],
                        }
                    ]
                }
            ]
        }
        offer = MatchAnswer.model_validate(answer).results[0].deficits[0].alternatives[0].alternative()
        assert (offer.resource_id, offer.starts_on, offer.score, offer.learning_type) == ("a1", None, 3.0, "formal")
        assert offer.reason == "по предмету; рядом"


class TestPrint:
    def test_what_people_wrote_is_escaped(self) -> None:
        content = generate(snap(), MATCHES, None, TODAY)
        content["sections"]["professional_request"] = {"text": "<script>alert(1)</script>", "interests": []}
        page = render_html(
            {"content": content, "status": "draft", "group": 2, "tutor": None, "self_check": evaluate(content)}
        )
        assert "<script>" not in page and "&lt;script&gt;" in page
        assert "Индивидуальный образовательный маршрут" in page and "None" not in page


class TestTaskEdits:
    TASK = {"id": "M2-L", "forms": [{"resource_id": "c1"}]}

    def test_a_teacher_does_not_correct_a_route_under_review(self) -> None:
        teacher = Principal(sub="t", role=Role.teacher)
        with pytest.raises(Forbidden):
            check_task_change(teacher, Status.recommended, self.TASK, {"formulation": "x"}, "причина")
        check_task_change(teacher, Status.in_progress, self.TASK, {"formulation": "x"}, "причина")

    def test_generated_fields_need_a_reason(self) -> None:
        with pytest.raises(ValidationFailed):
            check_task_change(
                Principal(sub="s", role=Role.regional_specialist), Status.draft, self.TASK, {"ends_on": "x"}, None
            )

    def test_progress_only_while_the_route_runs(self) -> None:
        teacher = Principal(sub="t", role=Role.teacher)
        with pytest.raises(Conflict):
            check_task_change(teacher, Status.draft, self.TASK, {"done": True}, None)
        check_task_change(teacher, Status.approved, self.TASK, {"done": True, "chosen_resource_id": "c1"}, None)
        with pytest.raises(ValidationFailed):
            check_task_change(teacher, Status.approved, self.TASK, {"chosen_resource_id": "other"}, None)
