"""crypto.parallel_map: the loop's results and the loop's first error, on threads."""

from __future__ import annotations

import threading

import pytest

from ansible_collections.passwordsecure.server.plugins.module_utils import crypto


def test_results_come_in_order_from_several_threads(monkeypatch):
    monkeypatch.setattr(crypto, "_cores", lambda: 4)
    seen = set()

    def square(number: int) -> int:
        seen.add(threading.get_ident())
        return number * number

    assert crypto.parallel_map(square, range(200)) == [n * n for n in range(200)]
    assert threading.get_ident() not in seen  # the work ran on the pool's threads


def test_few_items_or_one_core_run_in_the_calling_thread(monkeypatch):
    caller = threading.get_ident()
    assert crypto.parallel_map(lambda _n: threading.get_ident(), range(7), minimum=8) == [caller] * 7
    monkeypatch.setattr(crypto, "_cores", lambda: 1)
    assert crypto.parallel_map(lambda _n: threading.get_ident(), range(50)) == [caller] * 50
    assert set(crypto.parallel_map(lambda _n: threading.get_ident(), range(50), workers=3)) - {caller}


def test_the_first_failing_item_in_order_raises(monkeypatch):
    monkeypatch.setattr(crypto, "_cores", lambda: 4)

    def fail_on_odd(number: int) -> int:
        if number % 2:
            raise ValueError("item %d" % number)
        return number

    with pytest.raises(ValueError, match="^item 1$"):
        crypto.parallel_map(fail_on_odd, range(100))
