"""Small classic models that show the spec language and calibrate the checker.

Each is a well-known algorithm or puzzle whose state counts other tools agree on, so a
change to an engine that alters a count is caught at once (``tests/test_examples.py``
pins them all):

- :mod:`.mutex` (``mutex``): Peterson's two-process mutual exclusion. ``mutual_exclusion``
  holds; 20 distinct states.
- :mod:`.two_phase` (``two-phase-commit``): Two-Phase Commit, ``TwoPhase.tla`` of the TLA+
  Examples. ``consistent`` holds; 288 distinct states for 3 resource managers, as TLC and
  Stateright report.
- :mod:`.water_jugs` (``water-jugs``): the Die Hard 3- and 5-gallon jugs puzzle.
  ``big_jug_never_4`` fails with the 6-move solution.
"""
