"""The Die Hard water-jug puzzle: measure exactly 4 gallons with a 3- and a 5-gallon jug.

The heroes can fill a jug from the fountain, empty it on the ground, or pour one jug
into the other until the first is empty or the second is full. The jugs have no
markings, so these are the only ways to measure (the puzzle from the film "Die Hard with
a Vengeance", and ``DieHard.tla`` of the TLA+ Examples, ``specifications/DieHard``).

The model keeps the gallons in each jug and one action per move. As in ``DieHard.tla``,
every move is always allowed, even one that changes nothing (filling a full jug), so no
state is a deadlock and deadlock checking stays on (``deadlock_free`` holds).

``big_jug_never_4`` claims that the puzzle cannot be solved; breadth-first search
refutes it with the shortest solution, 6 moves. Checked exhaustively: 16 distinct
states, 97 generated, depth 8.
"""

from __future__ import annotations

from kubecheck import Int, Model, Var, action, always, maximum, minimum

__all__ = ["WaterJugs"]

SMALL = 3   # gallons the small jug holds
BIG = 5     # gallons the big jug holds


class WaterJugs(Model):
    """Measure 4 gallons with a 3-gallon and a 5-gallon jug."""

    name = "water-jugs"

    small = Var(Int(0, SMALL), init=0)   # gallons in the 3-gallon jug
    big = Var(Int(0, BIG), init=0)       # gallons in the 5-gallon jug

    @action
    def fill_small_jug(self, s):
        """The heroes fill the small jug from the fountain."""
        s.small = SMALL

    @action
    def fill_big_jug(self, s):
        """The heroes fill the big jug from the fountain."""
        s.big = BIG

    @action
    def empty_small_jug(self, s):
        """The heroes empty the small jug on the ground."""
        s.small = 0

    @action
    def empty_big_jug(self, s):
        """The heroes empty the big jug on the ground."""
        s.big = 0

    @action
    def pour_small_into_big(self, s):
        """The heroes pour the small jug into the big one until one is empty or the other full."""
        s.big = minimum(s.big + s.small, BIG)
        s.small = maximum(s.small - (BIG - s.big), 0)

    @action
    def pour_big_into_small(self, s):
        """The heroes pour the big jug into the small one until one is empty or the other full."""
        s.small = minimum(s.small + s.big, SMALL)
        s.big = maximum(s.big - (SMALL - s.small), 0)

    @always
    def big_jug_never_4(self, s):
        """The big jug never holds 4 gallons (fails: the puzzle has a solution)."""
        return s.big != 4

