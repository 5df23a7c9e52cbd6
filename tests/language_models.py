"""Small models that exercise every construct of the spec language.

Shared by the engine cross-checks (tests/test_engines.py) and the language tests
(tests/test_language.py), which pin their state counts.
"""

from __future__ import annotations

from enum import IntEnum

from kubecheck import (NONE, Array, Bool, Constant, Domain, Int, Model, Option, Queue, Record, Set, Var, action,
                       all_of, always, any_of, count, maximum, minimum, require, sometimes, step_invariant, sum_of,
                       when)


class Phase(IntEnum):
    IDLE = 0
    BUSY = 1
    DONE = 2


class Pipeline(Model):
    """A producer pushes job ids into a bounded queue; workers pop them and record them."""

    name = "pipeline"
    jobs = Constant(3, "job ids", min=1)
    capacity = Constant(2, "queue capacity", min=1)
    Jobs = Domain("job", size=jobs)
    Workers = Domain("worker", size=2)

    queue = Var(Queue(Jobs, capacity))                    # jobs waiting, oldest first
    produced = Var(Set(Jobs), init=False)                            # jobs the producer has pushed
    worker = Var(Array(Workers, Record(phase=Phase, job=Option(Jobs))),
                 init={"phase": Phase.IDLE, "job": NONE})            # each worker's phase and job
    done = Var(Set(Jobs), init=False)                                # jobs finished

    @action(job=Jobs)
    def producer_push(self, s, job):
        require(~s.produced[job])
        require(~s.queue.is_full)
        s.queue.push(job)
        s.produced[job] = True

    @action(w=Workers)
    def worker_take(self, s, w):
        require(s.worker[w].phase == Phase.IDLE)
        require(~s.queue.is_empty)
        s.worker[w].job = s.queue.pop()
        s.worker[w].phase = Phase.BUSY

    @action(w=Workers)
    def worker_finish(self, s, w):
        require(s.worker[w].phase == Phase.BUSY)
        s.done[s.worker[w].job] = True          # a write at a state-dependent index
        s.worker[w] = {"phase": Phase.IDLE, "job": NONE}

    @always
    def done_were_produced(self, s):
        return all_of(self.Jobs, lambda j: s.done[j].implies(s.produced[j]))

    @always
    def busy_workers_hold_a_job(self, s):
        return all_of(self.Workers, lambda w: (s.worker[w].phase == Phase.BUSY) == (s.worker[w].job != NONE))

    @step_invariant
    def done_is_stable(self, pre, post):
        return all_of(self.Jobs, lambda j: pre.done[j].implies(post.done[j]))

    @sometimes
    def all_done(self, s):
        return s.done.all()


class Grid(Model):
    """Tokens move on a 2-D grid of counters; exercises nested arrays and arithmetic."""

    name = "grid"
    size = Constant(2, "grid side", min=1)
    Rows = Domain("row", size=size)
    Cols = Domain("col", size=size)

    cell = Var(Array(Rows, Array(Cols, Int(0, 2))), init=lambda r: (lambda c: 1 if r == c else 0))  # tokens per cell
    moves = Var(Int(0, 3), init=0)                                    # moves made, bounded

    @action(r=Rows, c=Cols, d=Cols)
    def token_move_right(self, s, r, c, d):
        require(s.moves < 3)
        require(s.cell[r][c] > 0)
        require(s.cell[r][d] < 2)
        require(c != d)
        s.cell[r][c] = s.cell[r][c] - 1
        s.cell[r][d] = s.cell[r][d] + 1
        s.moves = s.moves + 1

    @always
    def tokens_conserved(self, s):
        return sum_of(self.Rows, lambda r: sum_of(self.Cols, lambda c: s.cell[r][c])) == self.size

    @always
    def at_most_two_in_a_row(self, s):
        return all_of(self.Rows, lambda r: count(self.Cols, lambda c: s.cell[r][c] > 0) <= 2)

    @sometimes
    def stacked(self, s):
        return any_of(self.Rows, lambda r: any_of(self.Cols, lambda c: s.cell[r][c] == 2))


class PointerBase(Model):
    """A pointer over three slots that may be NONE, and a mark per slot (shared with tests/test_vector.py)."""

    Slots = Domain("slot", size=3)

    ptr = Var(Option(Slots), init=NONE)                 # the slot pointed to, if any
    mark = Var(Array(Slots, Int(0, 2)), init=0)         # marks per slot

    @action(k=Slots)
    def user_point(self, s, k):
        require(s.ptr != k)
        s.ptr = k

    @action
    def user_unpoint(self, s):
        require(s.ptr != NONE)
        s.ptr = NONE


class Pointer(PointerBase):
    """A pointer that may be NONE, read guarded and unguarded; min/max and when."""

    name = "pointer"

    flag = Var(Bool, init=False)                        # set once something is marked twice

    @action
    def user_mark(self, s):
        require((s.ptr != NONE) & (s.mark[s.ptr] < 2))   # the read is used only where ptr is set
        s.mark[s.ptr] = minimum(s.mark[s.ptr] + 1, 2)
        s.flag = s.flag | (s.mark[s.ptr] == 1)

    @action
    def user_clear(self, s):
        require(s.flag)
        s.mark.set_all(lambda k: maximum(s.mark[k] - 1, 0))
        s.flag = when(s.ptr == NONE, False, s.mark[s.ptr] > 1)

    @always
    def flag_means_some_two(self, s):
        return s.flag.implies(any_of(self.Slots, lambda k: s.mark[k] >= 1))

    @step_invariant
    def marks_never_decrease(self, pre, post):
        """Fails: clearing lowers the marks (a step counterexample for the tests)."""
        return all_of(self.Slots, lambda k: post.mark[k] >= pre.mark[k])





class Registers(Model):
    """Two components share a register; only the writer may change it (step.by)."""

    name = "registers"
    value = Var(Int(0, 2), init=0)      # the shared register
    copy = Var(Int(0, 2), init=0)       # a reader's copy

    @action(v=Int(0, 2), component="writer")
    def writer_set(self, s, v):
        require(s.value != v)
        s.value = v

    @action(component="reader")
    def reader_copy(self, s):
        s.copy = s.value

    @action(component="reader")
    def reader_scribble(self, s):
        """A bug: the reader writes the register it should only read."""
        require((s.copy == 2) & (s.value == 2))
        s.value = 1

    @step_invariant
    def single_writer(self, pre, post, step):
        return step.by("writer") | (post.value == pre.value)

LANGUAGE_MODELS = [Pipeline, Grid, Pointer, Registers]
