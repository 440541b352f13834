"""The points of matching: what each reason adds to an item's score, and which learning types suit a group.

Points are in hundredths (integers, so that equal sums tie exactly). An item's score is the sum of the
points of its reasons; the API shows them divided by 100. `matching` and `catalogue_index` read them here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

COVER = 100  # it addresses the deficit
COVER_GENERAL_MENTOR = 60  # a subject mentor without competency tags
ALSO = 25  # per other deficit of the same teacher it also addresses
SUBJECT = 50  # made for the teacher's subject (cross-subject items get none)
LEVEL_EXPLICIT = 30  # tagged for the teacher's group
LEVEL_ANY = 10  # suits every group
LOCAL = 30  # offered in the teacher's municipality
ONLINE = 20  # online (or a mentor reachable online / next door)
REGIONAL = 10  # region-wide, in person
PREFERRED_MODE = 40
PREFERRED_LEARNING_TYPE = 40
REGISTRY = 20  # a course from the federal registry of programmes
MENTOR_FOR_WEAK_GROUP = 30  # groups up to WEAK_GROUP_MAX get a mentor or tutor (the regional regulation)
WEAK_GROUP_MAX = 2
MENTOR_LEVEL_GAP = 10  # per level the mentor stands above the teacher's group
# Which learning types suit which group: weaker groups start with structured (formal) learning,
# stronger ones grow through communities, projects and exchange of experience.
AFFINITY: Mapping[int, Mapping[str, int]] = MappingProxyType(
    {
        1: MappingProxyType({"formal": 30, "non_formal": 10, "informal": 0}),
        2: MappingProxyType({"formal": 20, "non_formal": 20, "informal": 0}),
        3: MappingProxyType({"formal": 0, "non_formal": 30, "informal": 10}),
        4: MappingProxyType({"formal": 0, "non_formal": 20, "informal": 30}),
    }
)
MENTOR_LEARNING_TYPE = "informal"  # наставничество: learning from a colleague in practice


def weak_group(group: int) -> bool:
    """Whether the regulation gives this group a mentor or tutor."""
    return group <= WEAK_GROUP_MAX
