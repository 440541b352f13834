"""Faults, proven by outcomes (nothing lost, the right status, recovery happens), never by durations;
on a stack of their own (benchmarks/faults.py, smaller): the shared session stack is never
touched, every scenario restarts what it stopped, and the stack and its PostgreSQL stop at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks.faults import (
    FaultStack,
    all_up,
    database_outage,
    generation_crash,
    hung_upstream,
    intake_crash,
    replica_kill,
)

pytestmark = pytest.mark.no_db  # nothing here uses the session database


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultStack]:
    with FaultStack() as fs:
        yield fs
    assert all(pr.poll() is not None for pr in fs.stack.procs.values() if pr is not None)


class TestCrashes:
    async def test_kill_9_during_a_bulk_upload_loses_nothing_and_shows_nothing_half_written(
        self, faults: FaultStack
    ) -> None:
        out = await intake_crash(faults, rows=10_000)
        assert out.killed_during, "the upload finished before it could be killed mid-write"
        assert out.answer_to_killed_upload in (0, 502, 503), out
        assert out.committed_after_crash == out.rows, out  # the earlier upload is intact
        assert (out.visible_of_killed, out.announced_of_killed) == (0, 0), out  # nothing of the killed one
        assert (out.retry_status, out.after_retry, out.announced_after_retry) == (200, out.rows, out.rows), out
        assert out.replay_status == 200, out

    async def test_kill_9_during_route_generation_ends_with_one_route_per_result(self, faults: FaultStack) -> None:
        out = await generation_crash(faults, teachers=1_500)
        assert 0 < out.routes_when_killed < out.teachers, out
        assert out.routes == out.teachers_with_routes == out.generated_events == out.teachers, out
        assert out.most_routes_of_one_teacher == 1, out

    async def test_kill_9_of_one_of_two_replicas_during_partitioned_generation_loses_nothing(
        self, faults: FaultStack
    ) -> None:
        out = await replica_kill(faults, teachers=1_500)
        assert out.held_by_killed > 0 and 0 < out.routes_when_killed < out.teachers, out  # killed mid-way
        assert out.cursors_moved_after_kill > 0 and out.held_by_killed_at_end == 0, out  # taken over
        assert out.routes == out.teachers_with_routes == out.generated_events == out.teachers, out
        assert out.most_routes_of_one_teacher == 1, out


class TestOutages:
    async def test_database_down_is_503_and_back_without_a_restart(self, faults: FaultStack) -> None:
        out = await database_outage(faults, down_for=2.0)
        assert set(out.answers_while_down.values()) == {503}, out
        assert out.problem_json_while_down, out
        assert set(out.readyz_while_down.values()) == {503}, out
        assert all_up(out.answers_after), out  # recovered by itself (the probe gives up after a minute)
        assert out.same_processes and out.route_generated_after, out

    async def test_a_hung_upstream_is_504_within_the_gateway_deadline(self, faults: FaultStack) -> None:
        out = await hung_upstream(faults, deadline=2.0)
        # The upstream stays frozen until all three answers are in, so a 504 can only be the gateway's own
        # deadline, and the other service's 200 was served while this one hung.
        assert (out.status, out.code) == (504, "upstream-timeout"), out
        assert out.readyz_status == 503, out
        assert out.other_service_status == 200, out
        assert out.status_after_thaw == 200, out
