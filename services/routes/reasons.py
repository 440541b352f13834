"""Why a form of work is offered for a task: a short list of distinct facts, built here and nowhere else.

The facts, each once and in this order: which deficit (by name) the form closes, why it suits the
teacher's level, where it runs (online, or in person in a municipality named when its name is known)
and how many seats are left. The matcher's points breakdown stays in the resources service's answer;
it is not copied into the route."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.routes.labels import LEVEL_LABELS

REMOTE_MODES = frozenset({"online"})


@dataclass(frozen=True)
class FormFacts:
    """What the resource map says of one offered form (see generation.Alternative)."""

    mode: str
    municipalities: tuple[str, ...] = ()
    free: int | None = None
    level_fit: bool | None = None  # True: recommended for the group; False: for any level; None: unknown


def _level(group: int, level_fit: bool | None) -> str | None:
    if level_fit is None:
        return None
    if level_fit:
        return f"рекомендована для группы поддержки {group} ({LEVEL_LABELS.get(group, '')} уровень)"
    return "подходит педагогам любого уровня"


def _place(name: str, home: str, names: Mapping[str, str]) -> str:
    if name in names:
        return f"муниципалитет «{names[name]}»"
    return "ваш муниципалитет" if name == home else "соседний муниципалитет"


def _where(facts: FormFacts, home: str, names: Mapping[str, str]) -> str:
    if facts.mode in REMOTE_MODES:
        return "проводится онлайн"
    how = "очно и онлайн" if facts.mode == "mixed" else "очно"
    if not facts.municipalities:
        return f"проводится {how}, для всего региона"
    places = [home] if home in facts.municipalities else sorted(facts.municipalities)
    where = ", ".join(dict.fromkeys(_place(m, home, names) for m in places[:3]))
    return f"проводится {how}: {where}"


def _seats(free: int | None) -> str | None:
    if free is None:
        return None
    return f"свободных мест: {free}" if free > 0 else "свободных мест нет"


def form_reasons(
    deficit_name: str,
    facts: FormFacts,
    group: int,
    home_municipality: str,
    municipality_names: Mapping[str, str] | None = None,
) -> list[str]:
    """The distinct facts of why a form is offered (see the module's docstring)."""
    found: Sequence[str | None] = (
        f"закрывает дефицит «{deficit_name}»",
        _level(group, facts.level_fit),
        _where(facts, home_municipality, municipality_names or {}),
        _seats(facts.free),
    )
    return list(dict.fromkeys(f for f in found if f))
