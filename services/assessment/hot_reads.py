"""The assessment service's hot single-object reads (kit.hotread), declared once: GET /teachers/{id}."""

from __future__ import annotations

from kit.hotread import HotRead, RowRead, operation_of, scope_rule
from services.assessment.api import teachers as teachers_api
from services.assessment.models import teachers
from services.assessment.repositories.teachers import TEACHER_COLUMNS


def hot_reads() -> list[HotRead]:
    return [
        RowRead(
            operation_of(teachers_api.router, teachers_api.get_teacher),
            columns=TEACHER_COLUMNS,
            key=teachers.c.id,
            # services.assessment.repositories.scope.teacher_scope_clause, over the row
            visible=scope_rule(municipality="municipality", organisation="organisation", teacher="id"),
        )
    ]
