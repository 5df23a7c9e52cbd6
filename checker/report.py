"""What a check found, for a person at a terminal: summary, verdicts, coverage, counterexamples.

Output goes through :class:`Output`. On a terminal it is coloured rich text. Anywhere else
(a pipe, a file, a test) it is plain, deterministic text: no colour, no wrapping, no
trailing spaces, so the same run prints the same bytes. Only the summary's ``time`` line
holds a timing; counterexample tables never do.

A counterexample is a table of steps. The initial state is shown in full, one line per
variable; every later step shows its action with its parameters and only the locations
it changed, at element granularity, as ``old -> new``::

    step  action                            changes
       0  initial state                     failures = 0
       1  controller_create_pod(pod=pod1)   status[pod1]: ABSENT -> PENDING
"""

from __future__ import annotations

import io
from typing import IO, Any, Sequence

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from .evaluate import Evaluator
from .ir import IR
from .registry import show_config_value
from .result import DEADLOCK, CheckResult, PropertyResult, Step, Trace
from .types import ArrayType, Leaf, RecordType, Type

__all__ = ["PLAIN_WIDTH", "STOPPED_TEXT", "Output", "is_tty", "render_result", "render_trace", "render_cti", "trace_table",
           "step_label", "changes", "format_state", "summary_table", "verdict_table", "coverage_table", "coverage_line",
           "final_line"]

PLAIN_WIDTH = 100_000
"""The width of plain (non-terminal) output: fixed, so that it does not depend on the environment,
and wide enough that no line is ever wrapped (a line of the report is a line of the file)."""

STOPPED_TEXT = {
    "complete": "complete: every reachable state was explored",
    "first_violation": "stopped at the first violation (--first); open verdicts are unknown",
    "max_states": "stopped at the state limit (--max-states); open verdicts are unknown",
    "max_depth": "stopped at the depth limit (--max-depth); open verdicts are unknown",
    "time_limit": "stopped at the time limit (--time-limit); open verdicts are unknown",
    "max_memory": "stopped at the memory limit (--max-memory); open verdicts are unknown",
    "interrupted": "interrupted (Ctrl-C): a partial result; open verdicts are unknown",
    "examples": "ran every example (random testing): what was not violated is unknown",
}
"""How the report explains each ``stopped_by`` value."""

_VERDICT_STYLE = {"holds": "green", "proved": "green", "violated": "bold red", "unknown": "yellow",
                  "not_checked": "dim"}


def is_tty(file: Any) -> bool:
    try:
        return bool(file.isatty())
    except (AttributeError, ValueError):
        return False


class Output:
    """A destination for rich renderables: coloured on a terminal, plain text elsewhere."""

    def __init__(self, file: IO[str], *, tty: bool | None = None) -> None:
        self.file = file
        self.tty = is_tty(file) if tty is None else tty
        if self.tty:
            self.console = Console(file=file, markup=False, emoji=False, highlight=False)
        else:
            self.console = Console(file=io.StringIO(), force_terminal=False, no_color=True, width=PLAIN_WIDTH,
                                   markup=False, emoji=False, highlight=False, soft_wrap=False)

    def print(self, item: RenderableType) -> None:
        """Print one renderable, or a plain string taken literally (never as markup)."""
        if isinstance(item, str):
            item = Text(item)
        if self.tty:
            self.console.print(item)
            return
        with self.console.capture() as cap:
            self.console.print(item)
        text = "\n".join(line.rstrip() for line in cap.get().split("\n"))
        self.file.write(text)
        self.file.flush()


# ---- counterexamples ------------------------------------------------------------------------

def step_label(ir: IR, step: Step, ev: Evaluator | None = None) -> str:
    """``scheduler_bind_pod(pod=pod1, node=node1)`` for one step (``initial state`` for the first)."""
    if step.action is None:
        return "initial state"
    a = ir.action(step.action)
    vals = dict(step.params)
    return (ev or Evaluator(ir)).label(a, tuple(vals[n] for n in a.param_names()))


def changes(ir: IR, before: Sequence[int], after: Sequence[int],
            ev: Evaluator | None = None) -> list[tuple[str, str, str]]:
    """``(location, old, new)`` for every state position that differs, in layout order."""
    ev = ev or Evaluator(ir)
    out = []
    for pos, (x, y) in enumerate(zip(before, after)):
        if x != y:
            t = ir.scalar_type_at(pos)
            out.append((ev.location(pos), t.show(x), t.show(y)))
    return out


def format_state(ir: IR, state: Sequence[int]) -> list[str]:
    """A whole state, one line per leaf: ``status = {pod1: ABSENT, pod2: PENDING}``, ``up = {node1}``."""
    sets = _set_leaves(ir)
    return [f"{lf.name} = {_show_leaf(lf, state, lf.name in sets)}" for lf in ir.leaves]


def trace_table(ir: IR, trace: Trace) -> Table:
    """The steps of a trace: the initial state in full, then each action and what it changed."""
    ev = Evaluator(ir)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("step", justify="right", style="dim")
    table.add_column("action", style="cyan")
    table.add_column("changes")
    prev: Sequence[int] | None = None
    for k, st in enumerate(trace.steps):
        cell = Text()
        if prev is None:
            cell.append("\n".join(format_state(ir, st.state)))
        else:
            cell = _changes_cell(ir, prev, st.state, ev)
        mark = f"{k} loop" if trace.loop is not None and k == trace.loop else str(k)
        table.add_row(Text(mark), Text(step_label(ir, st, ev)), cell)
        prev = st.state
    if trace.closing is not None and prev is not None:
        table.add_row(Text("back"), Text(step_label(ir, trace.closing, ev)),
                      _changes_cell(ir, prev, trace.closing.state, ev))
    if trace.stutters:
        table.add_row(Text(""), Text(f"(step {trace.loop} repeats forever: no fair action is enabled there)"),
                      Text(""))
    elif trace.loop is not None:
        table.add_row(Text(""), Text(f"(back to step {trace.loop}: the loop repeats forever)"), Text(""))
    elif trace.violation == DEADLOCK:
        table.add_row(Text(""), Text("(deadlock: no action is enabled)"), Text(""))
    return table


def _changes_cell(ir: IR, before: Sequence[int], after: Sequence[int], ev: Evaluator) -> Text:
    """The changes of one step, old values dim and new ones bold."""
    cell = Text()
    for where, old, new in changes(ir, before, after, ev):
        if cell.plain:
            cell.append("\n")
        cell.append(f"{where}: ")
        cell.append(old, style="dim")
        cell.append(" -> ")
        cell.append(new, style="bold yellow")
    if not cell.plain:
        cell.append("(no change)", style="dim")
    return cell


def render_trace(out: Output, ir: IR, trace: Trace, title: str) -> None:
    """A title line, then the trace's step table."""
    out.print(Text(title, style="bold"))
    out.print(trace_table(ir, trace))


def render_cti(out: Output, ir: IR, trace: Trace, name: str) -> None:
    """A counterexample to induction: a first state where ``name`` holds (any type-correct state, not
    necessarily reachable), the actions, and the last state, where it fails."""
    last = trace.steps[-1]
    what = f"{step_label(ir, last)} breaks it" if trace.length == 1 else f"{_steps(trace.length)} break it"
    out.print(Text(f"Counterexample to induction: {name} ({what})", style="bold"))
    out.print(Text("These states satisfy the type invariant but need not be reachable: if none is, strengthen "
                   "the invariant (or assume one that rules the first state out).", style="dim"))
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("state", justify="right", style="dim")
    table.add_column("action", style="cyan")
    table.add_column("state or changes")
    ev = Evaluator(ir)
    prev: Sequence[int] | None = None
    for k, st in enumerate(trace.steps):
        mark = "pre" if k == 0 else ("post" if k == len(trace.steps) - 1 else str(k))
        if prev is None:
            table.add_row(Text(mark), Text(f"(any state where {name} holds)"),
                          Text("\n".join(format_state(ir, st.state))))
        else:
            table.add_row(Text(mark), Text(step_label(ir, st, ev)), _changes_cell(ir, prev, st.state, ev))
        prev = st.state
    out.print(table)


def _set_leaves(ir: IR) -> set[str]:
    """Leaves whose innermost dimension comes from a ``Set(...)``: shown as ``{a, b}``."""
    found: set[str] = set()

    def walk(name: str, t: Type) -> None:
        if isinstance(t, ArrayType):
            if t.is_set:
                found.add(name)
            else:
                walk(name, t.elem)
        elif isinstance(t, RecordType):
            for fname, ft in t.fields:
                walk(f"{name}.{fname}", ft)

    for v in ir.variables:
        walk(v.name, v.type)
    return found


def _show_leaf(lf: Leaf, state: Sequence[int], is_set: bool) -> str:
    def level(k: int, base: int) -> str:
        if k == len(lf.dims):
            return lf.elem.show(state[base])
        d, s = lf.dims[k], lf.strides[k]
        if k == len(lf.dims) - 1 and is_set:
            return "{" + ", ".join(d.show(v) for j, v in enumerate(d.values()) if state[base + j * s]) + "}"
        return "{" + ", ".join(f"{d.show(v)}: {level(k + 1, base + j * s)}" for j, v in enumerate(d.values())) + "}"
    return level(0, lf.offset)


# ---- the whole result -----------------------------------------------------------------------

def _num(n: int) -> str:
    return f"{n:,}"


def _steps(n: int) -> str:
    return f"{n} step" if n == 1 else f"{n} steps"


def _config_text(config: dict[str, Any]) -> str:
    if not config:
        return "(no constants)"
    return " ".join(f"{k}={show_config_value(v)}" for k, v in config.items())


def summary_table(result: CheckResult, source: str = "") -> Table:
    """Model (and ``source``, the spec it came from), configuration, engine, why it stopped,
    state counts, depth and time."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    rate = f"{result.distinct_states / result.seconds:,.0f} states/s" if result.seconds > 0 else "-"
    stop_style = "green" if result.complete else "yellow"
    rows: list[tuple[str, Text]] = [
        ("model", Text(result.model + (f" ({source})" if source else ""))),
        ("config", Text(_config_text(result.config))),
        ("engine", Text(result.engine if result.extra.get("device", "cpu") == "cpu"
                        else f"{result.engine}, kernels on {result.extra['device']}")),
        ("stopped", Text(STOPPED_TEXT.get(result.stopped_by, result.stopped_by), style=stop_style)),
        ("states", Text(f"{_num(result.distinct_states)} distinct, {_num(result.total_states)} total"
                        + (", one per orbit" if "symmetry" in result.extra else ""))),
        ("depth", Text(f"{result.depth} levels")),
        ("time", Text(f"{result.seconds:.2f} s, {rate}" + ("" if result.extra.get("liveness_seconds") is None
                                                            else f"; liveness {result.extra['liveness_seconds']:.2f} s"))),
    ]
    if result.engine == "symbolic":     # no states are stored: the bound is what was explored
        bound = result.extra.get("bound", result.depth)
        rows = [r for r in rows if r[0] not in ("states", "depth", "time")]
        stopped = {"complete": "complete: every property was decided",
                   "max_depth": "stopped at the depth bound: open verdicts are unknown"}.get(result.stopped_by)
        if stopped:
            rows = [(k, Text(stopped, style=stop_style) if k == "stopped" else v) for k, v in rows]
        rows.append(("bound", Text(f"every path of up to {_steps(bound)} from an initial state")))
        if "canonical" in result.extra:
            n = len(result.extra["canonical"])
            rows.append(("canonical", Text(f"proofs assume zeroed queue slots and {n} default{'s' if n != 1 else ''} "
                                           "of absent objects, each proved for every reachable state")))
        rows.append(("time", Text(f"{result.seconds:.2f} s")))
    if result.extra.get("bytes_per_state"):
        rows.append(("memory", Text(f"{result.extra['bytes_per_state']:,.0f} bytes per state (visited set and "
                                    "parent links)")))
    sym = result.extra.get("symmetry")
    if sym:
        rows.insert(3, ("symmetry", Text(f"{', '.join(sym['domains'])} ({sym['renamings']:,} renamings)")))
    for k, v in rows:
        grid.add_row(Text(k), v)
    return grid


def _verdict_note(r: PropertyResult, result: CheckResult) -> str:
    if r.verdict == "violated" and r.counterexample is not None:
        note = f"counterexample: {_steps(r.counterexample.length)}"
        return note + (f", {r.itf}" if r.itf else "")
    if r.verdict == "unknown":
        return r.note or f"undecided: {result.stopped_by}"
    if r.verdict == "not_checked" and not r.note:
        return f"the {result.engine} engine does not check {r.kind} properties"
    return r.note


def verdict_table(result: CheckResult) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("property")
    table.add_column("kind")
    table.add_column("verdict")
    table.add_column("note")
    for name, r in result.properties.items():
        table.add_row(Text(name), Text(r.kind), Text(r.verdict, style=_VERDICT_STYLE.get(r.verdict, "")),
                      Text(_verdict_note(r, result)))
    return table


def coverage_table(result: CheckResult) -> Table:
    """Per action: kind, how often it fired, how many new states it found; flags actions that never fired, and
    gives the model's reason for each it declares dormant."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("action")
    table.add_column("kind")
    table.add_column("fired", justify="right")
    table.add_column("new states", justify="right")
    table.add_column("")
    for c in result.coverage:
        flag = Text("")
        if c.woke:
            flag = Text(f"fired, but declared dormant ({c.dormant})", style="bold red")
        elif c.dormant:
            flag = Text(f"dormant: {c.dormant}", style="dim")
        elif c.fired == 0:
            flag = Text("never fired", style="bold red") if result.complete else \
                Text("not fired yet", style="yellow")
        table.add_row(Text(c.name), Text(c.kind), Text(_num(c.fired)), Text(_num(c.new_states)), flag)
    return table


def coverage_line(result: CheckResult) -> Text:
    """One line under the coverage table: how many of the actions this configuration can fire did fire."""
    live = [c for c in result.coverage if not c.dormant]
    fired = sum(1 for c in live if c.fired)
    dormant = len(result.coverage) - len(live)
    woke = sum(1 for c in result.coverage if c.woke)
    head = f"every action fired ({fired})" if fired == len(live) else f"{fired} of {len(live)} actions fired"
    if dormant:
        head += f"; {dormant} dormant at this configuration"
        head += f", {woke} of which fired" if woke else ", none of which fired"
    style = "" if fired == len(live) and not woke else "yellow"
    return Text(head, style=style)


def final_line(result: CheckResult) -> Text:
    """One line: what the exit code says."""
    bad = result.violated()
    unknown = [n for n, p in result.properties.items() if p.verdict == "unknown"]
    woke = [c.name for c in result.coverage if c.woke]
    if bad:
        return Text(f"VIOLATED: {', '.join(bad)}", style="bold red")
    if woke:
        return Text(f"SPEC ERROR: declared dormant, yet fired: {', '.join(woke)}", style="bold red")
    if unknown:
        return Text(f"UNKNOWN: {len(unknown)} of {len(result.properties)} verdicts undecided "
                    f"(stopped by {result.stopped_by}); nothing was violated in what was explored",
                    style="bold yellow")
    skipped = [n for n, p in result.properties.items() if p.verdict == "not_checked"]
    checked = len(result.properties) - len(skipped)
    if skipped:
        # Not a pass: the run exits 3, and the line must not say OK.
        return Text(f"INCOMPLETE: {checked} checked properties hold; {len(skipped)} not checked "
                    f"({', '.join(skipped)})", style="bold yellow")
    return Text(f"OK: every property holds ({checked} checked)", style="bold green")


def render_result(out: Output, result: CheckResult, ir: IR, source: str = "") -> None:
    """The whole report: summary, coverage, counterexamples, verdicts, warnings, a final line.

    ``source`` names where the model came from (``specs/my.py:MyModel``), if not shipped.
    """
    out.print(summary_table(result, source))
    if result.coverage:
        out.print("")
        out.print(Text("Coverage", style="bold"))
        out.print(coverage_table(result))
        out.print(coverage_line(result))
    for name, r in result.properties.items():
        if r.counterexample is None:
            continue
        out.print("")
        title = f"Counterexample: {name} ({r.kind}) violated after {_steps(r.counterexample.length)}"
        render_trace(out, ir, r.counterexample, title)
        doc = _property_doc(ir, name)
        if doc:
            out.print(Text(f"{name}: {doc}", style="dim"))
        if r.itf:
            out.print(f"trace written to {r.itf}")
    for name, ctis in result.extra.get("cti", {}).items():
        for trace in ctis:
            out.print("")
            render_cti(out, ir, trace, name)
    out.print("")
    out.print(Text("Properties", style="bold"))
    out.print(verdict_table(result))
    if result.warnings:
        out.print("")
        for w in result.warnings:
            out.print(Text(f"warning: {w}", style="yellow"))
    out.print("")
    out.print(final_line(result))


def _property_doc(ir: IR, name: str) -> str:
    if name == DEADLOCK:
        return "Every reachable state has an enabled action."
    return next((p.doc for p in ir.properties if p.name == name), "")
