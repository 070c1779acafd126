"""Slots and wake-ups: when a stage's runners start, what they take, when they leave.

There is no scheduler thread. A stage runs as *runners*: a runner is a function submitted to the
stage's thread pool (or a coroutine on the pipeline's event loop) that takes an item from the
upstream queue, runs the op, puts the result in the stage's output queue, and goes on with the
next item until there is no input or no room for output; then it returns its thread to the pool.
A stage has at most ``concurrency`` runners, so at most that many ops in flight. Putting an item
starts a runner of the next stage when none of its runners is between tasks (they would take the
item themselves) and it has concurrency to spare; taking an item restarts the previous stage when
it had stopped for lack of room, once half its room is free. Runners are started outside the
lock (``_launch``); everything else here runs under the one engine lock, held only for a few
dictionary and deque operations at a time. ``starts`` lists collect the runners to start once the
lock is released.
"""

from __future__ import annotations

from ._common import _perf
from ._stage import LOOP, RUNNER, Stage

# Rough cost of starting a runner (submit, thread wake-up, GIL hand-over), in seconds: a stage
# with work waiting starts another runner only when that work takes longer than this.
_SPAWN_COST = 50e-6


class Scheduling:
    """The ``Engine``'s bookkeeping of runners and slots (a mixin; state lives in ``Engine``)."""

    def _kick(self, st: Stage, starts: list) -> None:
        """Start one more runner of ``st`` if it has work, room and concurrency for it.

        One at a time: a runner that finds more work waiting when it takes an item starts the
        next one (see ``_pick``), so a fast op is served by one runner going through a batch,
        and a slow op gets up to ``concurrency`` runners, one wake-up after another.
        """
        if self._stopping or st.finished or st.running >= st.concurrency:
            return
        starting = st.starting
        up = st.up
        work = len(st.parked)
        if up is not None and up.out:
            work += min(len(up.out), st.concurrency - st.inflight)
        if work <= starting:
            return
        room = st.slots - st.reserved - len(st.out)
        # No room: only the head of an ordered stage, parked, may go on (into an empty queue).
        if room <= starting and (
            starting or st.out or not st.ordered or st.next_emit not in st.parked
        ):
            return
        if st.blocked_since is not None:
            st.put_wait += _perf() - st.blocked_since
            st.blocked_since = None
        st.running += 1
        st.starting += 1
        self._active += 1
        starts.append((st, 1))

    def _rescue(self, starts: list) -> None:
        """The consumer has been starved for a while: give a runner to every stage whose runners
        are all inside a task while input waits and concurrency is left.

        A stage of fast ops runs on one runner (see ``_kick``); when that runner meets a
        straggler (or an op that never returns), nothing else would start a second one: no new
        item arrives upstream (its queue is full) and none is taken downstream.
        """
        for st in self._stages[1:]:
            if st.running < st.concurrency and not st.starting and _all_busy(st):
                self._kick(st, starts)

    def _pick(self, st: Stage, starts: list, first: bool = False) -> list | None:
        """The next work for a runner of ``st`` with one slot reserved for it, or None.

        ``first`` is true for a runner's first call. Returns ``[seq, item, generator, seconds
        so far]``; ``generator`` is None for a new item.
        """
        if first:
            st.starting -= 1
        if self._stopping:
            return None
        held = st.reserved + len(st.out)
        parked = st.parked
        if parked:
            if st.ordered and st.next_emit in parked and (held < st.slots or not st.out):
                st.reserved += 1
                st.executing += 1
                entry = parked.pop(st.next_emit)
                return [st.next_emit, *entry]
            if held < st.slots:
                seq = next(iter(parked))
                st.reserved += 1
                st.executing += 1
                return [seq, *parked.pop(seq)]
        up = st.up
        if up is not None and up.out and held < st.slots and st.inflight < st.concurrency:
            item = up.out.popleft()
            self._taken(up, starts)
            st.reserved += 1
            st.inflight += 1
            st.executing += 1
            seq = st.next_seq
            st.next_seq = seq + 1
            if (
                up.out
                and not st.starting
                and st.running < st.concurrency
                and st.executing >= st.running
                and _slow(st)
            ):
                # Every runner, this one included, is busy with a task, and the work waiting
                # takes longer than starting a runner: start the next one.
                self._kick(st, starts)
            return [seq, item, None, 0.0]
        return None

    def _exit_runner(self, st: Stage, starts: list) -> None:
        """A runner of ``st`` found nothing to do (or was cancelled) and leaves."""
        st.running -= 1
        self._active -= 1
        if st.running == 0 and not self._stopping:
            up = st.up
            if st.parked or (up is not None and up.out):
                if st.blocked_since is None:
                    st.blocked_since = _perf()
            elif up is not None and not up.finished and up.starved_since is None:
                up.starved_since = _perf()
            self._maybe_finish(st, starts)
        if self._stopping and self._active <= 0:
            self._cond.notify_all()

    def _taken(self, st: Stage, starts: list) -> None:
        """An item was taken from ``st.out``: statistics, and restart ``st`` if it waits for room."""
        st.num_got += 1
        if not st.out:
            st.ready_total += _perf() - st.ready_since
        if st.finished:
            return
        if st.running == 0:
            if st.slots - st.reserved - len(st.out) >= st.resume_at or not st.out:
                self._kick(st, starts)
        elif st.running < st.concurrency and not st.starting and _all_busy(st):
            # Runners between tasks take the freed slot themselves; add one only if every
            # runner is inside a (maybe long) task.
            self._kick(st, starts)

    def _put(self, st: Stage, value: object, starts: list) -> None:
        """Append ``value`` to ``st``'s output queue and wake whoever takes from it."""
        out = st.out
        if not out:
            st.ready_since = now = _perf()
            if st.starved_since is not None:
                st.get_wait += now - st.starved_since
                st.starved_since = None
        out.append(value)
        down = st.down
        if down is None:
            if self._consumer_waiting:
                self._cond.notify()
        elif down.running < down.concurrency and not down.starting and _all_busy(down):
            self._kick(down, starts)

    def _reserve(self, st: Stage, seq: int) -> bool:
        """A generator of ``st`` that just yielded wants a slot to go on; False: park it."""
        if self._stopping:
            return False
        if st.reserved + len(st.out) < st.slots or (
            st.ordered and seq == st.next_emit and not st.out
        ):
            st.reserved += 1
            return True
        return False

    def _maybe_finish(self, st: Stage, starts: list) -> None:
        """Mark ``st`` finished once its upstream is finished and drained and it is idle."""
        while st is not None and not st.finished:
            up = st.up
            if up is not None and (not up.finished or up.out):
                return
            if st.running or st.inflight or st.parked:
                return
            if st.flush is not None:
                value = st.flush()
                if value is not None:
                    self._put(st, value, starts)
            st.finished = True
            if st.down is None:
                self._cond.notify_all()
            st = st.down

    def _launch(self, starts: list) -> None:
        for i, (st, _) in enumerate(starts):
            try:
                if st.mode == RUNNER:
                    st.launch(self._run_sync, st)
                elif st.mode == LOOP:
                    self._loop.call_soon_threadsafe(self._spawn_async, st)
                else:
                    self._submit_future(st)
            except RuntimeError as e:  # the executor or the loop is shut down
                with self._lock:
                    if not self._stopping:
                        self._causes.append((st.name, e))
                        self._fail(f"Could not start a task of stage {st.name!r}: {e}")
                    st.starting -= 1
                    self._exit_runner(st, [])
            except BaseException:
                # KeyboardInterrupt in the consumer: the runners not started must not be
                # waited for by stop().
                with self._lock:
                    for st_, _ in starts[i:]:
                        st_.starting -= 1
                        self._exit_runner(st_, [])
                raise


def _all_busy(st: Stage) -> bool:
    """Whether every runner of ``st`` is inside a task (so none will take new work soon).

    A runner between tasks will take the next waiting item itself; starting another one for it
    would cost a thread wake-up for nothing. A runner inside a task may stay there for long.
    """
    return st.executing >= st.running


def _slow(st: Stage) -> bool:
    """Whether the items waiting at the input of ``st`` take longer than starting a runner.

    Judged from the stage's mean task time; until a few tasks were timed, assume they do.
    """
    hist = st.hist
    count = hist.count
    return count < 4 or hist.total * len(st.up.out) > _SPAWN_COST * count
