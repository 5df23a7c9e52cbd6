"""Peterson's algorithm: two processes share one critical section using only reads and writes.

Each process that wants the critical section raises its flag, then gives the turn to
the other process, then waits until the other's flag is down or the turn has come back
to it. When both want in, the one that wrote ``turn`` last waits, so at most one is inside
(G. L. Peterson, "Myths about the mutual exclusion problem", IPL 12(3), 1981).

The model keeps the two flags, the shared ``turn`` and each process's program counter,
with one action per line of the algorithm, so every interleaving of the two processes
is explored. It leaves out what a process does inside and outside the critical section.
The processes do not have to want the critical section (raising the flag has no
fairness), but once a process has raised its flag its steps are weakly fair.

Checked exhaustively: 20 distinct states, 36 generated, depth 6 (the figures a plain
Python BFS written independently of kubecheck also gives). ``mutual_exclusion`` holds,
and some state has a process in its critical section. The ``leads_to`` properties hold
too: under weak fairness of the steps after raising the flag, a process that has raised
its flag eventually enters (Peterson's algorithm is starvation-free). Without that
fairness a process can stop forever after raising its flag, and both fail.
"""

from __future__ import annotations

from enum import IntEnum

from kubecheck import ANY, Array, Domain, Model, Var, action, always, any_of, count, leads_to, require, sometimes

__all__ = ["Pc", "Mutex"]


class Pc(IntEnum):
    """Where a process is in Peterson's algorithm."""

    NONCRITICAL = 0     # outside, not interested
    FLAG_RAISED = 1     # has raised its flag, about to give the turn away
    WAITING = 2         # has given the turn away, waits for the other
    CRITICAL = 3        # inside the critical section


class Mutex(Model):
    """Peterson's two-process mutual exclusion."""

    name = "mutex"

    Processes = Domain("process", size=2)

    flag = Var(Array(Processes, bool), init=False)          # whether each process wants the critical section
    turn = Var(Processes, init=ANY)                         # who may enter if both want to; any value at start
    pc = Var(Array(Processes, Pc), init=Pc.NONCRITICAL)     # each process's place in the algorithm

    # The spec language has no literal for "the other process", so the actions that need
    # it take it as a second parameter, constrained to differ: `other` ranges over
    # Processes \ {process}, as `\E j \in Procs \ {i}` would in TLA+.

    @action(process=Processes)
    def process_set_flag(self, s, process):
        """A process that wants the critical section raises its flag."""
        require(s.pc[process] == Pc.NONCRITICAL)
        s.flag[process] = True
        s.pc[process] = Pc.FLAG_RAISED

    @action(process=Processes, other=Processes, fairness="weak")
    def process_give_turn(self, s, process, other):
        """A process with its flag raised gives the turn to the other process."""
        require(other != process)
        require(s.pc[process] == Pc.FLAG_RAISED)
        s.turn = other
        s.pc[process] = Pc.WAITING

    @action(process=Processes, other=Processes, fairness="weak")
    def process_enter(self, s, process, other):
        """A waiting process enters once the other's flag is down or the turn is its own."""
        require(other != process)
        require(s.pc[process] == Pc.WAITING)
        require(~s.flag[other] | (s.turn == process))
        s.pc[process] = Pc.CRITICAL

    @action(process=Processes, fairness="weak")
    def process_exit(self, s, process):
        """A process leaves the critical section and lowers its flag."""
        require(s.pc[process] == Pc.CRITICAL)
        s.flag[process] = False
        s.pc[process] = Pc.NONCRITICAL

    @always
    def mutual_exclusion(self, s):
        """At most one process is in its critical section."""
        return count(self.Processes, lambda p: s.pc[p] == Pc.CRITICAL) <= 1

    @sometimes
    def someone_in_critical_section(self, s):
        """Some state has a process in its critical section (so the model is not vacuous)."""
        return any_of(self.Processes, lambda p: s.pc[p] == Pc.CRITICAL)

    @leads_to
    def process1_enters(self, s):
        """Once process1 has raised its flag, it eventually enters its critical section."""
        return s.pc[0].isin(Pc.FLAG_RAISED, Pc.WAITING), s.pc[0] == Pc.CRITICAL

    @leads_to
    def process2_enters(self, s):
        """Once process2 has raised its flag, it eventually enters its critical section."""
        return s.pc[1].isin(Pc.FLAG_RAISED, Pc.WAITING), s.pc[1] == Pc.CRITICAL
