"""Expert work of the methodological active (issue 15 point 6), as rules without I/O: who may take an expert
duty, the load one assignment may carry, and that no member checks works from their own school.

The duties, their Russian names, units, maximum loads and whether they check schools' works are data
(`data/active.json` "expert_duties"); each problem is (field, code, Russian message).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from services.resources.active_vocab import DUTIES, ActiveStatus

Problem = tuple[str, str, str]


def member_problem(status: str) -> Problem | None:
    """Only members of the active do expert work (not candidates, not those who left)."""
    if status != ActiveStatus.member:
        return ("member_id", "not-a-member", "Экспертную работу поручают только членам актива")
    return None


def own_school_problem(member_school: str | None, schools: Sequence[str]) -> Problem | None:
    """A member never checks the works of their own school."""
    if member_school is not None and member_school in schools:
        return ("schools", "own-school", "Член актива не может проверять работы своей образовательной организации")
    return None


def load_problem(duty: str, load: int) -> Problem | None:
    rule = DUTIES[duty]
    if load > int(rule["max_load"]):
        return (
            "load",
            "load-too-high",
            f"Нагрузка по этому виду работы — не больше {rule['max_load']} {rule['unit_ru']} за одно поручение",
        )
    return None


def schools_problem(duty: str, schools: Sequence[str]) -> Problem | None:
    """A duty that checks schools' works names the schools whose works are checked."""
    if DUTIES[duty]["checks_school_works"] and not schools:
        return ("schools", "schools-required", "Укажите образовательные организации, чьи работы проверяются")
    return None


def period_problem(starts_on: date, ends_on: date) -> Problem | None:
    if ends_on < starts_on:
        return ("ends_on", "period-reversed", "Дата окончания раньше даты начала")
    return None


def assignment_problems(
    *,
    status: str,
    member_school: str | None,
    duty: str,
    load: int,
    schools: Sequence[str],
    starts_on: date,
    ends_on: date,
) -> list[Problem]:
    """Every reason an assignment cannot be made, in the order people read them."""
    checks = (
        member_problem(status),
        period_problem(starts_on, ends_on),
        load_problem(duty, load),
        schools_problem(duty, schools),
        own_school_problem(member_school, schools),
    )
    return [p for p in checks if p is not None]
