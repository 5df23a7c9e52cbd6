"""Two-phase commit: a transaction manager makes resource managers all commit, or all abort.

Each resource manager (RM) working on a transaction either prepares, promising it can
commit, or decides on its own to abort. The transaction manager (TM) collects the
"Prepared" messages; once every RM has prepared it may commit, and until then it may
abort at any time. It broadcasts its decision, and each RM that receives it commits or
aborts accordingly (J. Gray and L. Lamport, "Consensus on Transaction Commit", 2004).

This is ``TwoPhase.tla`` of the TLA+ Examples (``specifications/transaction_commit``),
action for action. Like that spec it keeps only safety: RMs send "Prepared" messages on
their own (the TM's "Prepare" requests are left out), an RM that aborts sends nothing
(the TM deciding to abort stands for it), and the model says what may happen, not what
must. Messages are never removed; receiving one is enabled by its having been sent.

Checked exhaustively: 288 distinct states for 3 RMs, as TLC and Stateright report, with
1,146 states generated and depth 11, as in the TLA+ Examples manifest. ``consistent``
holds, and the transaction can commit.
"""

from __future__ import annotations

from enum import IntEnum

from kubecheck import (Array, Bool, Constant, Domain, Model, Set, Var, action, all_of, always, any_of, require,
                       sometimes)

__all__ = ["RMState", "TMState", "TwoPhaseCommit"]


class RMState(IntEnum):
    """What a resource manager has done with the transaction."""

    WORKING = 0
    PREPARED = 1
    COMMITTED = 2
    ABORTED = 3


class TMState(IntEnum):
    """What the transaction manager has decided."""

    INIT = 0
    COMMITTED = 1
    ABORTED = 2


class TwoPhaseCommit(Model):
    """The Two-Phase Commit protocol (TLA+ Examples, TwoPhase.tla)."""

    name = "two-phase-commit"

    resource_managers = Constant(3, "resource managers taking part in the transaction", min=1)

    RMs = Domain("rm", size=resource_managers)
    symmetric = (RMs,)          # resource managers are interchangeable (--symmetry)

    rm_state = Var(Array(RMs, RMState), init=RMState.WORKING)  # the state of each resource manager
    tm_state = Var(TMState, init=TMState.INIT)                 # the state of the transaction manager
    tm_prepared = Var(Set(RMs), init=False)                    # the RMs whose "Prepared" message the TM has received

    # The messages sent so far, as TwoPhase.tla's `msgs`: a "Prepared" message per RM, and
    # the TM's broadcast "Commit" and "Abort". A message stays once sent, since a process is
    # not required to receive it (a lost message and an ignored one are the same thing).
    prepared_sent = Var(Set(RMs), init=False)                  # the RMs that have sent "Prepared"
    commit_sent = Var(Bool, init=False)                        # whether the TM has broadcast "Commit"
    abort_sent = Var(Bool, init=False)                         # whether the TM has broadcast "Abort"

    @action(rm=RMs)
    def tm_receive_prepared(self, s, rm):
        """The TM, still undecided, receives the "Prepared" message of an RM."""
        require(s.tm_state == TMState.INIT)
        require(s.prepared_sent[rm])
        s.tm_prepared[rm] = True

    @action
    def tm_commit(self, s):
        """The TM commits the transaction once every RM has prepared, and broadcasts "Commit"."""
        require(s.tm_state == TMState.INIT)
        require(s.tm_prepared.all())
        s.tm_state = TMState.COMMITTED
        s.commit_sent = True

    @action
    def tm_abort(self, s):
        """The TM, still undecided, aborts the transaction and broadcasts "Abort"."""
        require(s.tm_state == TMState.INIT)
        s.tm_state = TMState.ABORTED
        s.abort_sent = True

    @action(rm=RMs)
    def rm_prepare(self, s, rm):
        """A working RM prepares and sends "Prepared" to the TM."""
        require(s.rm_state[rm] == RMState.WORKING)
        s.rm_state[rm] = RMState.PREPARED
        s.prepared_sent[rm] = True

    @action(rm=RMs)
    def rm_choose_to_abort(self, s, rm):
        """A working RM decides on its own to abort (and, in this model, says nothing)."""
        require(s.rm_state[rm] == RMState.WORKING)
        s.rm_state[rm] = RMState.ABORTED

    @action(rm=RMs)
    def rm_receive_commit(self, s, rm):
        """An RM receives the TM's "Commit" and commits."""
        require(s.commit_sent)
        s.rm_state[rm] = RMState.COMMITTED

    @action(rm=RMs)
    def rm_receive_abort(self, s, rm):
        """An RM receives the TM's "Abort" and aborts."""
        require(s.abort_sent)
        s.rm_state[rm] = RMState.ABORTED

    @always
    def consistent(self, s):
        """No RM has committed while another has aborted (TCConsistent)."""
        return ~(any_of(self.RMs, lambda rm: s.rm_state[rm] == RMState.COMMITTED)
                 & any_of(self.RMs, lambda rm: s.rm_state[rm] == RMState.ABORTED))

    @sometimes
    def all_committed(self, s):
        """Some state has every RM committed (so the model is not vacuous)."""
        return all_of(self.RMs, lambda rm: s.rm_state[rm] == RMState.COMMITTED)
