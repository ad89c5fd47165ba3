"""One rate-limit window's budget, as answers arriving in any order tell it (the scraping API shares one state per
instance among its server threads). The races are driven with explicit calls in a set order, not thread timing."""

from __future__ import annotations

import time

from doubles.mastodon_server import MastodonDouble

from fediscope.sources.client import MastodonClient
from fediscope.sources.ratelimit import RateLimitState

TIMELINE = "/api/v1/timelines/public"
NOW = 1_785_000_000.0


def test_a_late_answer_does_not_raise_the_budget_left_in_its_window() -> None:
    """Was: the last answer noted set ``remaining``, whichever request it answered: request 1 saw 5 left, request 2
    none, and request 1's answer, arriving last, said 5 left again (the API then sent requests the instance had no
    budget for). Within one window the budget only goes down (a reset read a second apart is the same window); a
    later reset is the next window, taken as said."""
    state = RateLimitState()
    state.note(limit=300, remaining=0, reset_at=NOW + 120, now=NOW)
    state.note(limit=300, remaining=5, reset_at=NOW + 120, now=NOW + 1)
    state.note(remaining=4, reset_at=NOW + 121.5, now=NOW + 2)  # the same reset, its clock skew read anew
    assert state.snapshot() == (300, 0, NOW + 121.5, None)

    state.note(limit=300, remaining=299, reset_at=NOW + 420, now=NOW + 125)
    assert state.snapshot() == (300, 299, NOW + 420, None)
    # another reset while the window runs: another window (a 429 of a shorter limit, test_request_deadline.py)
    state.note(remaining=0, reset_at=NOW + 130, now=NOW + 126)
    assert state.snapshot() == (300, 0, NOW + 130, None)


class _AnsweredMeanwhile(RateLimitState):
    """Another thread's answer noted just after the pacing read the state (a state shared by the API's threads)."""

    def snapshot(self) -> tuple[int | None, int | None, float | None, float | None]:
        seen = super().snapshot()
        self.note(remaining=1, reset_at=seen[2])
        return seen


def test_the_pacing_message_says_the_budget_the_wait_was_reckoned_from() -> None:
    """Was: the message read ``remaining`` again, outside the lock, after the wait was reckoned from a snapshot: it
    could name another answer's count than the one its wait spread."""
    state = _AnsweredMeanwhile()
    state.note(limit=20, remaining=3, reset_at=time.time() + 100)
    waits: list[tuple[str, float, str]] = []
    with MastodonDouble(statuses=5) as double:
        client = MastodonClient(double.url, timeout=2.0, rate=state, sleep=lambda seconds: None,
                                on_wait=lambda what, seconds, kind: waits.append((what, seconds, kind)))
        assert client.get(TIMELINE, {"limit": 2}).status == 200

    [(what, _seconds, kind)] = waits
    assert kind == "pace" and "(3 left in this rate-limit window)" in what, what


def test_a_late_answer_of_a_window_over_leaves_the_known_window_as_it_is() -> None:
    """Was: an answer naming a reset already passed (sent in the window before, arrived after an answer of the next
    one) was taken as another window: its counts replaced the known window's, whose reset was then past, so the
    requests after it were neither paced nor held while the window known had no budget left."""
    state = RateLimitState()
    state.note(limit=300, remaining=0, reset_at=NOW + 300, now=NOW)
    state.note(limit=300, remaining=7, reset_at=NOW - 2, now=NOW + 1)
    assert state.snapshot() == (300, 0, NOW + 300, None)
    client = MastodonClient("https://example.com", rate=state)
    assert client.pacing_delay(NOW + 1)[1] == "reset"

    # with no window known (its reset passed), such an answer is taken as said: it holds nothing either way
    state.note(limit=300, remaining=7, reset_at=NOW + 299, now=NOW + 301)
    assert state.snapshot() == (300, 7, NOW + 299, None)
