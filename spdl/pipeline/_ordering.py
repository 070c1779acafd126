"""Output order: results that must wait for earlier ones (``output_order="input"``).

A task's sequence number is the order its item was taken in. In an ordered stage a result goes
to the output queue only when every earlier task is done; results that finished early wait in
``Stage.pending`` (still holding their slots), and the head's end releases them in order.
"""

from __future__ import annotations

from ._stage import Stage


class Ordering:
    """How a task's results and its end reach the output queue (a mixin of ``Engine``)."""

    def _emit(self, st: Stage, seq: int, value: object, starts: list) -> None:
        """A task of ``st`` produced ``value``; it uses the slot the task holds."""
        if st.ordered and seq != st.next_emit:
            entry = st.pending.get(seq)
            if entry is None:
                st.pending[seq] = [[value], False]
            else:
                entry[0].append(value)
            return
        st.reserved -= 1
        self._put(st, value, starts)

    def _finish_task(self, st: Stage, seq: int, holds_slot: bool, starts: list) -> None:
        """A task of ``st`` is over (done, dropped or failed)."""
        st.inflight -= 1
        if holds_slot:
            st.reserved -= 1
        if not st.ordered:
            return
        if seq != st.next_emit:
            entry = st.pending.get(seq)
            if entry is None:
                st.pending[seq] = [[], True]
            else:
                entry[1] = True
            return
        # The head is done: release the results that waited for it, in order.
        pending = st.pending
        nxt = seq + 1
        while True:
            entry = pending.get(nxt)
            if entry is None:
                break
            values, done = entry
            for value in values:
                st.reserved -= 1
                self._put(st, value, starts)
            values.clear()
            if not done:
                break
            del pending[nxt]
            nxt += 1
        st.next_emit = nxt
        if nxt in pending:  # a generator still running became the head: it streams directly now
            del pending[nxt]
            if nxt in st.parked and not st.out and st.running < st.concurrency:
                self._kick(st, starts)
