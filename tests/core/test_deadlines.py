"""DeadlineQueue against the obvious model: min over a dict, under random operations."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from carpd.core.deadlines import DeadlineQueue

NAMES = ["a", "b", "c", "d"]
ops = st.lists(st.tuples(st.sampled_from(["update", "pop", "forget", "track"]),
                         st.sampled_from(NAMES),
                         st.one_of(st.none(), st.integers(0, 20).map(float))), max_size=80)


@settings(max_examples=300, deadline=None)
@given(ops)
def test_queue_matches_a_plain_minimum(operations: list[tuple[str, str, float | None]]) -> None:
    q, model = DeadlineQueue(), {}
    order: list[str] = []
    for op, name, value in operations:
        if op == "track" and name not in model:
            q.track(name, value)
            model[name] = value
            order.append(name)
        elif op == "update" and name in model:
            q.update(name, value)
            model[name] = value
        elif op == "forget" and name in model:
            q.forget(name)
            del model[name]
            order.remove(name)
        elif op == "pop":
            now = value if value is not None else 10.0
            due = q.pop_due(now)
            expected = sorted((d, order.index(n), n) for n, d in model.items()
                              if d is not None and d <= now)
            assert due == [n for _, _, n in expected]
            for n in due:
                model[n] = None
        live = [d for d in model.values() if d is not None]
        assert q.earliest() == (min(live) if live else None)


def test_equal_deadlines_come_out_in_tracking_order() -> None:
    q = DeadlineQueue()
    for name in ("web", "mail", "db"):
        q.track(name, 3.0)
    assert q.pop_due(3.0) == ["web", "mail", "db"]
    assert q.earliest() is None


def test_heap_is_compacted_under_churn() -> None:
    q = DeadlineQueue()
    q.track("web", 0.0)
    for i in range(10_000):
        q.update("web", float(i))
    assert len(q._heap) <= 2 * 1 + 65
    assert q.earliest() == 9999.0
