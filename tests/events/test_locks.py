"""events.locks.held: one holder at a time (a Redis lock in the services suite, a lock of
the process in the embedded one), never waiting; the lease renews while held."""

from __future__ import annotations

import threading

from events import locks


def test_a_second_holder_is_refused_until_the_first_lets_go() -> None:
    with locks.held("trail:test-lock", 30) as first:
        assert first is not None and first() is True  # renewed
        with locks.held("trail:test-lock", 30) as second:
            assert second is None
        seen: list[object] = []
        other = threading.Thread(target=lambda: seen.append(_try("trail:test-lock")))
        other.start()
        other.join()
        assert seen == [False]  # another thread is refused too
        with locks.held("trail:other-lock", 30) as unrelated:
            assert unrelated is not None
    with locks.held("trail:test-lock", 30) as again:
        assert again is not None


def test_a_holder_that_raises_lets_go() -> None:
    try:
        with locks.held("trail:test-lock-raise", 30) as renew:
            assert renew is not None
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert _try("trail:test-lock-raise")


def _try(name: str) -> bool:
    with locks.held(name, 30) as renew:
        return renew is not None
