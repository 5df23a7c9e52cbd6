"""Leader election: replicated controller managers and schedulers, one of which acts at a time.

An HA control plane runs two or more replicas of kube-controller-manager and of
kube-scheduler. Only one replica of each acts; the others wait. They agree on which one
through a Lease object (``coordination.k8s.io``, one per component in ``kube-system``)
and client-go's ``leaderelection`` package. The Lease records ``holderIdentity``,
``renewTime``, ``leaseDurationSeconds`` and ``leaseTransitions``. A replica reads the
Lease and writes itself in as holder when the Lease is free, already its own, or has
not changed for ``LeaseDuration`` (15 s by default) by its own clock. The write is an
ordinary update, so it carries the resourceVersion the replica read, and the API server
refuses it with 409 Conflict if another replica wrote first. The leader renews every
``RetryPeriod`` (2 s). If it cannot renew within ``RenewDeadline`` (10 s) it stops
leading, and in practice the process exits. Because the renew deadline is shorter than
the lease duration, the old leader has stopped before anyone may take an expired Lease.
client-go says plainly that it does not fence: two replicas act at once if a leader's
clock runs slow, or its process pauses for longer than ``LeaseDuration - RenewDeadline``.

The model keeps, per role (a component that elects a leader) and per replica:

- ``LeaseStore``: the Lease's holder, in etcd, and its age on an abstract clock;
- ``LeaseApi``: each replica's one Lease update in flight, the answer to its last one,
  and the API server's handling of them;
- ``LeaderElection``: whether each replica believes it leads, the clock, and lease loss.
  A replica that believes it leads acts (``leader_act``), so "at most one leader" means
  "at most one replica acting".

**Time.** There is no clock value. Each Lease has an age with three values. FRESH means
the last write is recent. PAST_RENEW_DEADLINE means its holder's renew deadline has
passed: RenewDeadline, plus the RetryPeriod that client-go waits before each renewal
attempt. EXPIRED means LeaseDuration has passed. Every successful write makes the age
FRESH again. The environment's clock moves it one value on at any moment, so every speed
of the API server, the network and the replicas relative to real time is explored.
Candidates may take only an EXPIRED Lease (or a free one, or their own). A leader may
step down once its renew deadline has passed.

The one timing assumption is a guard on ``clock_expire_lease``: a Lease cannot expire
while a replica still leads. This is client-go's premise. The renew deadline is shorter
than the lease duration, clocks run at the same rate, and a leader runs its deadline
handler within the gap. Remove that guard and you have the known failure: a leader paused
past the gap, or a renew deadline not shorter than the lease duration. ``one_leader``
then fails. Under the premise, the abstraction is sound for safety:

- Candidates: the model counts a candidate's wait from the last write. The real wait
  starts when the candidate itself sees that write, which is no earlier. So a model
  candidate takes over no later than a real one.
- Leaders: the model forces a leader off only when its Lease is about to expire. A real
  leader stops at its renew deadline, which the premise puts earlier. A leader that
  stops sooner than the model requires looks like a leader that does not act, and the
  model includes that.

An OK that has not been delivered when the renew deadline passes is discarded. The
controller manager's leader-election client uses an HTTP timeout of RenewDeadline,
counted from a send that came before the write. Without that timeout, a late answer
makes a second leader (kubernetes/kubernetes#44887).

**Optimistic concurrency.** A request does not carry a resourceVersion number. An update
in flight was read from the stored version, and once the Lease is written, every other
update in flight carries an old version, which the API server refuses with 409 whenever
it comes to it. Versions only grow, so that refusal is certain, and the model gives it in
the step of the write: the other updates are dropped, as their senders drop them on a
409. The refusal and its reading change nothing but the sender's own update and answer,
and the sender can do nothing with the Lease before it has read it, so answering at once
leaves out only states that differ in a 409 not yet read (a left mover, in the sense of
Lipton's reduction). This is exactly the resourceVersion check, with no counter to
bound. Comparing the holder alone, as
``etcd.py`` compares pod content, would be too coarse here. A renewal leaves the holder
unchanged, so a take-over prepared before a late renewal landed would still succeed, and
two replicas would lead. That is an ABA case that real resourceVersions forbid.

**Left out.**

- ``leaseTransitions`` and ``acquireTime``: they only count and report.
- Explicit release on shutdown (``ReleaseOnCancel``): it only hands the Lease over
  sooner.
- Crashes: a replica may simply stop sending and acting, which already covers them.
- Coordinated leader election (LeaseCandidate objects).
- New identities: a replica keeps its identity across terms, while a real one restarts
  with a new identity. That only makes it a newcomer.

Fault "leader lease loss" (``fault_lose_renewal``): a leader's renewal is lost before it
reaches the API server (a dropped connection, an API server restart). The leader does
not notice; only its renew deadline tells it that it no longer leads. The budget
``lease_losses`` bounds how often this happens in all.
"""

from __future__ import annotations

from enum import IntEnum

from kubecheck import (NONE, Array, Constant, Domain, Int, Option, Record, Set, Var, action, all_of, always, require,
                       step_invariant, when)

from .apiserver import ApiServerCore
from .etcd import Etcd
from .objects import Response

__all__ = ["Role", "LeaseAge", "LeaseUpdate", "LeaseStore", "LeaseApi", "LeaderElection", "PromptLeaders",
           "LEASE_ETCD_VARIABLES"]


class Role(IntEnum):
    """A replicated control-plane component that elects a leader through its own Lease."""

    CONTROLLER_MANAGER = 0   # kube-controller-manager (Lease kube-system/kube-controller-manager)
    SCHEDULER = 1            # kube-scheduler (Lease kube-system/kube-scheduler)


class LeaseAge(IntEnum):
    """How long ago a Lease was last written, on the abstract clock."""

    FRESH = 0                 # within the renew deadline of the last write
    PAST_RENEW_DEADLINE = 1   # past the renew deadline: its holder must step down, but nobody may take it yet
    EXPIRED = 2               # past the lease duration: any candidate may take it


class LeaseUpdate(IntEnum):
    """A replica's Lease update in flight (read from the version stored now: a write refuses every other one)."""

    NONE = 0      # nothing in flight
    CURRENT = 1   # in flight; nobody has written the Lease since the replica read it (a write refuses the others)


class LeaseStore(Etcd):
    """The Lease objects in etcd, one per role, and their age."""

    component = "etcd"
    owns = ()

    replicas_per_role = Constant(2, "replicas of each component that elects a leader", min=1)

    Replicas = Domain("replica", size=replicas_per_role)

    etcd_lease_holder = Var(Array(Role, Option(Replicas)), init=NONE)   # each Lease's holderIdentity (NONE: no Lease)
    lease_age = Var(Array(Role, LeaseAge), init=LeaseAge.EXPIRED)       # time since each Lease's stored renewTime


LEASE_ETCD_VARIABLES = ("etcd_lease_holder",)
"""The stored variables of this file (``single_writer_etcd`` finds them by their prefix)."""

Replicas = LeaseStore.Replicas


class LeaseApi(LeaseStore, ApiServerCore):
    """The API server's update of a Lease: a generic update with a resourceVersion precondition.

    These handlers are the API server's, and live here rather than in ``apiserver.py``
    because only Lease objects use them and they write only the variables of this file.
    """

    component = "apiserver"
    owns = ApiServerCore.owns + LEASE_ETCD_VARIABLES + ("lease_age", "lease_updates", "lease_responses")

    lease_updates = Var(Array(Role, Array(Replicas, LeaseUpdate)), init=LeaseUpdate.NONE)  # each replica's update
    lease_responses = Var(Array(Role, Array(Replicas, Response)), init=Response.NONE)      # the answer to its last one

    def write_lease(self, s, role, replica):
        """Store ``replica`` as holder with a new renewTime, answer OK, and refuse every other update in flight (409:
        its version is now old); their senders drop them on reading the 409, which the model makes part of this step."""
        s.etcd_lease_holder[role] = replica
        s.lease_age[role] = LeaseAge.FRESH
        s.lease_responses[role][replica] = Response.OK
        self.settle_other_updates(s, role, replica)

    def settle_other_updates(self, s, role, replica):
        """Every update in flight but ``replica``'s is refused and dropped (its own is consumed by the write)."""
        s.lease_updates[role].set_all(lambda r: LeaseUpdate.NONE)

    @action(role=Role, replica=Replicas, fairness="weak")
    def apiserver_update_lease(self, s, role, replica):
        """The API server stores an update based on the current Lease, and refuses every other one in flight (409)."""
        require(s.lease_updates[role][replica] == LeaseUpdate.CURRENT)
        self.write_lease(s, role, replica)


class LeaderElection(LeaseApi):
    """The replicas of each role: candidates, leaders, the clock their Leases age on, and lease loss."""

    component = "leader_election"
    owns = ("lease_updates", "lease_responses", "leading", "last_act", "lease_age", "renewals_lost")

    lease_losses = Constant(1, "budget of lost lease renewals (fault: leader lease loss)", min=0)

    roles: tuple[Role, ...] = tuple(Role)   # the roles that run replicas in this model

    leading = Var(Array(Role, Set(Replicas)), init=False)         # the replicas that believe they lead, and so act
    last_act = Var(Record(role=Role, replica=Option(Replicas)),
                   init={"role": Role.CONTROLLER_MANAGER, "replica": NONE})   # ghost: who acted last, for which role
    renewals_lost = Var(Int(0, lease_losses), init=0)             # renewals lost so far

    # ---- candidates and leaders (client-go's LeaderElector) ----

    @action(role=Role, replica=Replicas, fairness="weak")
    def elector_request_lease(self, s, role, replica):
        """A replica that may hold the Lease (free, its own, or expired) sends an update naming itself."""
        require(role.isin(*self.roles))
        require(s.lease_updates[role][replica] == LeaseUpdate.NONE)
        require(s.lease_responses[role][replica] == Response.NONE)
        holder = s.etcd_lease_holder[role]
        require((holder == NONE) | (holder == replica) | (s.lease_age[role] == LeaseAge.EXPIRED))
        s.lease_updates[role][replica] = LeaseUpdate.CURRENT

    @action(role=Role, replica=Replicas, fairness="weak")
    def elector_take_lease(self, s, role, replica):
        """On OK the replica leads: it has taken the Lease, or renewed the one it holds."""
        require(s.lease_responses[role][replica] == Response.OK)
        s.leading[role][replica] = True
        s.lease_responses[role][replica] = Response.NONE

    @action(role=Role, replica=Replicas, fairness="weak")
    def elector_step_down(self, s, role, replica):
        """A leader whose renew deadline has passed without a successful renewal stops leading."""
        require(s.leading[role][replica])
        require(s.lease_age[role] != LeaseAge.FRESH)
        s.leading[role][replica] = False

    @action(role=Role, replica=Replicas, component="leader")
    def leader_act(self, s, role, replica):
        """A replica that believes it leads does its work (reconciles, schedules)."""
        require(s.leading[role][replica])
        s.last_act = {"role": role, "replica": replica}

    # ---- time ----

    @action(role=Role, kind="environment")
    def clock_pass_renew_deadline(self, s, role):
        """The renew deadline of the last write passes; an OK not delivered yet is dropped (the client timed out)."""
        require(s.lease_age[role] == LeaseAge.FRESH)
        s.lease_age[role] = LeaseAge.PAST_RENEW_DEADLINE
        s.lease_responses[role].set_all(lambda r: when(s.lease_responses[role][r] == Response.OK, Response.NONE,
                                                       s.lease_responses[role][r]))

    @action(role=Role, kind="environment")
    def clock_expire_lease(self, s, role):
        """The lease duration passes; by then its leader has stepped down (the renew deadline is shorter)."""
        require(s.lease_age[role] == LeaseAge.PAST_RENEW_DEADLINE)
        require(s.leading[role].is_empty())
        s.lease_age[role] = LeaseAge.EXPIRED

    # ---- fault: leader lease loss ----

    @action(role=Role, replica=Replicas, kind="fault")
    def fault_lose_renewal(self, s, role, replica):
        """A leader's renewal is lost before it reaches the API server; the leader does not notice."""
        require(s.leading[role][replica])
        require(s.lease_updates[role][replica] != LeaseUpdate.NONE)
        require(s.renewals_lost < self.lease_losses)
        s.lease_updates[role][replica] = LeaseUpdate.NONE
        s.renewals_lost = s.renewals_lost + 1

    # ---- properties ----

    @always
    def one_leader(self, s):
        """For each role, at most one replica believes it leads (and so acts) at any time."""
        return all_of(Role, lambda r: s.leading[r].count() <= 1)

    @always
    def leader_holds_lease(self, s):
        """A replica that believes it leads is its Lease's holder."""
        return all_of(Role, lambda r: all_of(self.Replicas, lambda i: s.leading[r][i].implies(
            s.etcd_lease_holder[r] == i)))

    @step_invariant
    def acts_only_while_holding_lease(self, pre, post, step):
        """A replica acts only while it holds its role's Lease and the Lease has not expired."""
        role, actor = post.last_act.role, post.last_act.replica
        return step.by("leader").implies((post.etcd_lease_holder[role] == actor)
                                         & (post.lease_age[role] != LeaseAge.EXPIRED))

    def every_role_led(self, s):
        """Every role in play has a replica that believes it leads."""
        return all_of(Role, lambda r: (~r.isin(*self.roles)) | s.leading[r].any())


class PromptLeaders(LeaderElection):
    """Leaders that renew in time, except within the ``lease_losses`` budget: leadership changes are faults.

    ``LeaderElection`` lets the clock pass a leader's renew deadline at any moment, so a
    leader may lose its Lease again and again, and leadership changes hands without end.
    That is right for checking the election itself. A model of the whole cluster asks
    instead what the other components do across a given number of handovers, so here the
    renew deadline of a Lease whose holder leads passes only as a lost renewal, counted in
    ``lease_losses``: a healthy leader renews every RetryPeriod (2 s), well within its
    RenewDeadline (10 s), and missing it takes a fault (a pause, an overloaded API server,
    a dropped connection). A Lease that nobody leads under still ages freely.

    For the same reason a leader renews only once the renew deadline of its last write
    has passed. A renewal of a FRESH Lease stores the same holder, and the age stays
    FRESH; the only other thing a write does is to make the other replicas' updates
    stale, and while the Lease is FRESH those are stale already (the write that made it
    FRESH made them so, and nobody but the holder may send while it is FRESH). So such
    a renewal changes nothing that any action or property reads.
    """

    component = "leader_election"

    fault_lose_renewal = None   # a lost renewal is the renew deadline passing, counted below

    # A leader steps down only past its renew deadline, which here only a lost renewal passes.
    actions_paid_by = {"lease_losses": ("elector_step_down",)}

    @action(role=Role, replica=Replicas, fairness="weak")
    def elector_request_lease(self, s, role, replica):
        """A replica that may hold the Lease (free, expired, or its own past the renew deadline) sends an update."""
        require(role.isin(*self.roles))
        require(s.lease_updates[role][replica] == LeaseUpdate.NONE)
        require(s.lease_responses[role][replica] == Response.NONE)
        holder, age = s.etcd_lease_holder[role], s.lease_age[role]
        require((holder == NONE) | ((holder == replica) & (age != LeaseAge.FRESH)) | (age == LeaseAge.EXPIRED))
        s.lease_updates[role][replica] = LeaseUpdate.CURRENT

    @action(role=Role, kind="environment")
    def clock_pass_renew_deadline(self, s, role):
        """The renew deadline of the last write passes; while a replica leads, only as a lost renewal (a fault)."""
        led = s.leading[role].any()
        require(s.lease_age[role] == LeaseAge.FRESH)
        require(~led | (s.renewals_lost < self.lease_losses))
        s.lease_age[role] = LeaseAge.PAST_RENEW_DEADLINE
        s.lease_responses[role].set_all(lambda r: when(s.lease_responses[role][r] == Response.OK, Response.NONE,
                                                       s.lease_responses[role][r]))
        s.renewals_lost = when(led, s.renewals_lost + 1, s.renewals_lost)
