"""The ``kubecheck`` command: list the shipped models, check a model, replay a trace.

::

    kubecheck list [MODEL ...]
    kubecheck check [MODEL] [--config KEY=VALUE ...] [--max-states N] [--json] ...
    kubecheck replay FILE [--model MODEL] [--config KEY=VALUE ...]
    kubecheck prove MODEL [--config KEY=VALUE ...] [--depth K] [--induction K] [--per-action]
                          [--lemma NAME ...] [--jointly] [--json] ...

MODEL is a shipped model's name (``kubecheck list``) or ``path/to/file.py:ClassName``.

Exit codes of ``check``: 0 every property holds (or this engine does not check it, with a
warning); 1 a property is violated; 2 nothing was explored because the command line, the
configuration or the spec is wrong, or the spec failed while it was explored (a spec bug,
shown with the trace that reaches it); 3 no property is violated but some verdict is
unknown (a limit, or Ctrl-C: the partial report is printed). A second Ctrl-C, or one
before exploring starts, aborts with 130. ``docs/results.md`` documents them all.

Exit codes of ``replay``: 0 the trace is an execution of the model (whatever it
violates); 1 it is not (an action is disabled, a state does not match); 2 the file is
malformed, missing, or names an unknown model.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
from typing import Any, Sequence

from rich.text import Text

from . import __version__
from .builder import ENGINES
from .errors import ConfigError, KubecheckError, ModelRuntimeError, TraceError
from .model import Model
from .progress import ProgressReporter
from .registry import DEFAULT_MODEL, MODELS, build_model, load_model, show_config_value
from .report import Output, render_result, render_trace
from .vector.device import DEVICES

__all__ = ["main", "build_parser", "EXIT_INTERRUPTED", "EXIT_BROKEN_PIPE"]

EXIT_INTERRUPTED = 130
"""Ctrl-C before exploring started, or a second Ctrl-C: nothing to report."""

EXIT_BROKEN_PIPE = 141
"""stdout was closed by its reader before the report was written (128 + SIGPIPE)."""

_CHECK_EPILOG = """\
exit codes:
  0    every property holds (or this engine does not check it, and a warning says so)
  1    a property is violated (its counterexample is shown)
  2    nothing was explored (a usage, configuration or spec error), or the spec failed
       while it was explored (a spec bug, shown with the trace that reaches it)
  3    nothing is violated, but some verdict is unknown (a limit was reached, or Ctrl-C:
       the partial report is printed)
  130  Ctrl-C before exploring started, or a second Ctrl-C
"""

_PROVE_EPILOG = """\
exit codes:
  0  every selected property is proved (or, for a goal, reached)
  1  a property is violated (its shortest counterexample is shown)
  2  a usage, configuration or spec error
  3  nothing is violated, but some verdict is unknown (up to the depth, or not inductive:
     the counterexample to induction is shown)

strengthening: an invariant that is true but not inductive is proved together with
lemmas, other invariants of the model that rule out its counterexample to induction:
  kubecheck prove leader-election --property one_leader --induction 1 \
      --lemma leader_holds_lease --lemma lease_handshake_consistent
Each lemma is checked by BMC and proved in the same induction (never assumed);
--jointly proves the selected invariants (default: all) as one conjunction.
"""

_REPLAY_EPILOG = """\
exit codes:
  0  the trace is an execution of the model (whatever properties it violates)
  1  the trace is not an execution of the model
  2  the file is malformed or missing, or the model or configuration is wrong
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubecheck",
        description="Check a system written as a Python state machine, exhaustively.")
    parser.add_argument("--version", action="version", version=f"kubecheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", help="list the shipped models, their config keys and properties",
                       description="List models: a description, config keys with defaults, properties.")
    p.add_argument("models", nargs="*", metavar="MODEL",
                   help="models to describe (default: every shipped model); a name or path/to/file.py:ClassName")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("check", help="explore a model's states and check its properties",
                       description="Explore every reachable state of a model (breadth-first) and check its "
                                   "properties.",
                       epilog=_CHECK_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", nargs="?", default=None, metavar="MODEL",
                   help=f"a shipped model's name or path/to/file.py:ClassName (default: {DEFAULT_MODEL}, checked "
                        "with --symmetry)")
    _config_arg(p)
    p.add_argument("--engine", choices=ENGINES, default="auto",
                   help="auto (the default): the vectorized engine where it compiles the model, else explicit; "
                        "explicit: the reference BFS; vector: the numpy BFS; hypothesis: random runs, shrunk "
                        "counterexamples, no proof (for models too large to explore)")
    p.add_argument("--examples", type=_positive(int), metavar="N",
                   help="with --engine hypothesis: runs per search (default 200)")
    p.add_argument("--steps", type=_positive(int), metavar="N",
                   help="with --engine hypothesis: actions per run at most (default 50)")
    p.add_argument("--walks", type=_positive(int, zero=True), metavar="N",
                   help="with --engine hypothesis: fast random walks after the examples, while nothing is found "
                        "(default 10000 on a model small enough to compile, else 0)")
    p.add_argument("--seed", type=int, metavar="S",
                   help="with --engine hypothesis: other random runs (default: derandomized, the same every time)")
    p.add_argument("--max-states", type=_positive(int), metavar="N", help="stop after N distinct states")
    p.add_argument("--max-depth", type=_positive(int), metavar="N",
                   help="explore at most N BFS levels (the initial states are the first)")
    p.add_argument("--time-limit", type=_positive(float), metavar="SECONDS",
                   help="stop after SECONDS of exploration")
    p.add_argument("--max-memory", type=_positive(int), metavar="MIB",
                   help="stop when resident memory reaches MIB MiB")
    p.add_argument("--first", action="store_true", help="stop at the first violation")
    p.add_argument("--property", action="append", default=[], metavar="NAME",
                   help="check only this property (repeatable; deadlock_free names deadlock freedom)")
    p.add_argument("--no-deadlock", action="store_true", help="do not check for deadlocks")
    p.add_argument("--symmetry", action="store_true",
                   help="store one state per orbit of the model's symmetric domains (same verdicts, fewer states)")
    p.add_argument("--liveness", action="store_true",
                   help="also decide temporal properties (eventually, leads_to, converges) on the state graph, under "
                        "the actions' fairness; a violation is a lasso (a prefix and a cycle)")
    p.add_argument("--device", choices=DEVICES, default="cpu",
                   help="where the vectorized engine computes guards, successors and fingerprints: the CPU "
                        "(numpy, the default) or a CUDA GPU (needs CuPy)")
    p.add_argument("--out", metavar="DIR", help="write each counterexample to DIR/<property>.itf.json (ITF)")
    p.add_argument("--json", action="store_true",
                   help="print the result as JSON (docs/results.md) on stdout, and nothing else")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--progress", action="store_true",
                   help="print progress lines on stderr even when it is not a terminal (CI logs)")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("prove", help="prove invariants with Z3 (bounded model checking, k-induction)",
                       description="Check properties symbolically with Z3: bounded model checking to --depth finds "
                                   "shortest counterexamples; --induction K proves invariants for every depth by "
                                   "k-induction; --per-action proves that each action preserves each invariant and "
                                   "shows a counterexample to induction for each one that does not.",
                       epilog=_PROVE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="a shipped model's name or path/to/file.py:ClassName")
    _config_arg(p)
    p.add_argument("--depth", type=_positive(int), default=10, metavar="K",
                   help="bounded model checking: every path of up to K steps (default 10)")
    p.add_argument("--induction", type=_positive(int), default=None, metavar="K",
                   help="prove each invariant by k-induction, trying k = 1..K (default 3; without --per-action)")
    p.add_argument("--per-action", action="store_true",
                   help="prove that every action preserves each invariant (1-induction per action); a failing "
                        "action shows its counterexample to induction")
    p.add_argument("--property", action="append", default=[], metavar="NAME",
                   help="check only this property (repeatable)")
    p.add_argument("--lemma", action="append", default=[], metavar="NAME",
                   help="strengthen each proof with this invariant of the model (repeatable): it is proved jointly "
                        "with each invariant, by BMC in the base case and as part of the inductive step")
    p.add_argument("--jointly", action="store_true",
                   help="prove the selected invariants (default: all) and the lemmas together, as one inductive "
                        "conjunction")
    p.add_argument("--time-limit", type=_positive(float), metavar="SECONDS", help="stop after SECONDS")
    p.add_argument("--out", metavar="DIR", help="write each counterexample to DIR/<property>.itf.json (ITF)")
    p.add_argument("--json", action="store_true",
                   help="print the result as JSON (docs/results.md) on stdout, and nothing else")
    p.set_defaults(func=_cmd_prove)

    p = sub.add_parser("replay", help="replay a trace file (ITF) on its model",
                       description="Replay an ITF trace step by step on the model: say whether it is a real\n"
                                   "execution, and which properties it violates at which step.",
                       epilog=_REPLAY_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE", help="an ITF trace (.itf.json)")
    p.add_argument("--model", metavar="MODEL",
                   help="the model to replay on (default: the one the trace names); a name or file.py:ClassName")
    _config_arg(p)
    p.set_defaults(func=_cmd_replay)
    return parser


def _positive(kind: type, zero: bool = False) -> Any:
    """An argument parser for a positive number of ``kind`` (or zero, with ``zero``)."""
    what = ("non-negative " if zero else "positive ") + ("integer" if kind is int else "number")

    def parse(text: str) -> Any:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expects a {what}; got {text!r}") from None
        if not (v >= 0 if zero else v > 0):
            raise argparse.ArgumentTypeError(f"must be {what.split()[0]}; got {text}")
        return v
    return parse


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                   help="set a model constant (repeatable; `kubecheck list` shows the keys)")


def main(argv: Sequence[str] | None = None) -> int:
    """The console entry point: run one command and return its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 2)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except KubecheckError as err:
        _error(str(err))
        return 2
    except KeyboardInterrupt:
        print("kubecheck: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`kubecheck list | head`): stop quietly, as a killed pipeline would.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_BROKEN_PIPE


def _error(message: str) -> None:
    print(f"kubecheck: error: {message}", file=sys.stderr)


# ---- kubecheck list -------------------------------------------------------------------------

def _cmd_list(args: argparse.Namespace) -> int:
    out = Output(sys.stdout)
    failed = shown = 0
    for name in args.models or list(MODELS):
        try:
            cls = load_model(name)
            ir = cls().ir
        except KubecheckError as err:
            _error(f"model `{name}`: {err}")
            failed += 1
            continue
        if shown:
            out.print("")
        shown += 1
        for line in describe_model(name, cls, ir):
            out.print(line)
    return 2 if failed else 0


def describe_model(name: str, cls: type[Model], ir: Any) -> list[Text]:
    """The lines ``kubecheck list`` prints for one model."""
    lines = [Text(name, style="bold cyan") + Text(f"  {_summary_line(cls)}")]
    consts = cls.constants()
    lines.append(Text("  config:" if consts else "  config: (none)"))
    keys = {n: f"{n}={show_config_value(c.default)}" for n, c in consts.items()}
    width = max((len(k) for k in keys.values()), default=0)
    for n, c in consts.items():
        lines.append(Text(f"    {keys[n].ljust(width)}  {_const_doc(c)}".rstrip()))
    props = [(p.name, p.kind) for p in ir.properties]
    if ir.check_deadlock:
        props.append(("deadlock_free", "deadlock"))
    lines.append(Text("  properties:" if props else "  properties: (none)"))
    width = max((len(n) for n, _ in props), default=0)
    for n, kind in props:
        lines.append(Text(f"    {n.ljust(width)}  {kind}"))
    return lines


def _summary_line(cls: type[Model]) -> str:
    doc = inspect.cleandoc(cls.__doc__) if cls.__doc__ else ""
    return doc.split("\n\n")[0].replace("\n", " ") if doc else "(no description)"


def _const_doc(c: Any) -> str:
    bounds = []
    if c.min is not None:
        bounds.append(f"at least {c.min}")
    if c.max is not None:
        bounds.append(f"at most {c.max}")
    suffix = f"; {', '.join(bounds)}" if bounds else ""
    return f"{c.doc}{suffix}"


# ---- kubecheck check ------------------------------------------------------------------------

def _cmd_check(args: argparse.Namespace) -> int:
    _check_engine_flags(args)
    if args.model is None:        # the default check: the whole cluster, one state per orbit
        args.model, args.symmetry = DEFAULT_MODEL, args.engine != "hypothesis"
    model = build_model(args.model, args.config)
    ir = model.ir
    write_itf = _itf_writer(args.out) if args.out else None
    checker = model.checker().engine(args.engine)
    if args.engine == "hypothesis":
        checker = checker.hypothesis(args.examples, args.steps, args.seed, args.walks)
    if args.max_states is not None:
        checker = checker.max_states(args.max_states)
    if args.max_depth is not None:
        checker = checker.max_depth(args.max_depth)
    if args.time_limit is not None:
        checker = checker.time_limit(args.time_limit)
    if args.max_memory is not None:
        checker = checker.max_memory(args.max_memory)
    if args.first:
        checker = checker.first()
    if args.property:
        checker = checker.properties(*args.property)
    if args.no_deadlock:
        checker = checker.deadlock(False)
    if args.symmetry:
        checker = checker.symmetry()
    if args.liveness:
        checker = checker.liveness()
    if args.device != "cpu":
        checker = checker.device(args.device)
    mode = "off" if args.quiet else ("lines" if args.progress else "auto")
    with ProgressReporter(sys.stderr, mode) as progress:
        try:
            result = checker.progress(progress).run()
        except ModelRuntimeError as err:
            progress.close()
            return _spec_failed(ir, err)
    return _report(args, ir, result, write_itf)


def _check_engine_flags(args: argparse.Namespace) -> None:
    """Options that belong to one engine are refused, in one sentence, with another."""
    random_only = [f for f, v in (("--examples", args.examples), ("--steps", args.steps), ("--walks", args.walks),
                                  ("--seed", args.seed)) if v is not None]
    if random_only and args.engine != "hypothesis":
        raise ConfigError(f"{random_only[0]} sets how the Hypothesis engine runs the model; add --engine hypothesis, "
                          f"or drop {random_only[0]}.")
    if args.engine == "hypothesis":
        for flag, on in (("--symmetry", args.symmetry), ("--liveness", args.liveness),
                         ("--device", args.device != "cpu")):
            if on:
                raise ConfigError(f"{flag} is not supported by the Hypothesis engine, which runs the model at "
                                  f"random; use --engine explicit, vector or auto with {flag}.")


def _itf_writer(out: str) -> Any:
    """``kubecheck.itf.write_itf``, once ``out`` is known to be a usable folder (checked before exploring)."""
    try:
        from .itf import write_itf
    except ImportError as err:
        raise ConfigError(f"--out needs the ITF writer (kubecheck.itf), which cannot be imported: {err}.") from None
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"--out {out}: cannot create the folder ({err.strerror}); give a folder you can "
                          "write to.") from None
    if not os.access(out, os.W_OK):
        raise ConfigError(f"--out {out}: the folder is not writable; give a folder you can write to.")
    return write_itf


# ---- kubecheck prove ------------------------------------------------------------------------

def _spec_failed(ir: Any, err: ModelRuntimeError) -> int:
    """The spec failed while it was explored: say where, with the trace that reaches it."""
    _error(str(err))
    if err.trace is not None:
        render_trace(Output(sys.stderr), ir, err.trace,  # type: ignore[arg-type]
                     "The state where it happened is reached by these steps:")
    return 2


def _report(args: argparse.Namespace, ir: Any, result: Any, write_itf: Any) -> int:
    """Write the counterexamples (``--out``), print the result (``--json`` or the report), return the exit code."""
    if write_itf is not None:
        for name, r in result.properties.items():
            if r.counterexample is not None:
                path = os.path.join(args.out, f"{name}.itf.json")
                write_itf(path, ir, r.counterexample)
                r.itf = path
    if args.json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
    else:
        render_result(Output(sys.stdout), result, ir, "" if args.model in MODELS else args.model)
    return result.exit_code()


def _cmd_prove(args: argparse.Namespace) -> int:
    from .symbolic import prove

    model = build_model(args.model, args.config)
    ir = model.ir
    write_itf = _itf_writer(args.out) if args.out else None
    induction = 0 if args.per_action else (3 if args.induction is None else args.induction)
    try:
        result = prove(ir, args.depth, args.property or None, induction=induction, per_action=args.per_action,
                       lemmas=args.lemma, jointly=args.jointly, time_limit=args.time_limit)
    except ModelRuntimeError as err:
        return _spec_failed(ir, err)
    return _report(args, ir, result, write_itf)


# ---- kubecheck replay -----------------------------------------------------------------------

def _cmd_replay(args: argparse.Namespace) -> int:
    if args.config and not args.model:
        raise ConfigError("--config needs --model: name the model the configuration is for.")
    model = build_model(args.model, args.config) if args.model else None
    if not os.path.isfile(args.file):
        raise TraceError(f"trace file `{args.file}` does not exist; give the path of an .itf.json file.")
    try:
        from .replay import replay_file
    except ImportError as err:
        raise ConfigError(f"replay needs kubecheck.replay, which cannot be imported: {err}.") from None
    res = replay_file(args.file, model_instance=model)
    out = Output(sys.stdout)
    if not res.ok:
        out.print(Text(f"{args.file}: NOT an execution of the model", style="bold red"))
        out.print(f"  {res.error}")
        out.print(f"  (the first {res.steps} steps replay)")
        return 1
    out.print(Text(f"{args.file}: a real execution of the model ({res.steps} steps)", style="bold green"))
    for name, step in sorted(res.violations.items(), key=lambda kv: (kv[1], kv[0])):
        out.print(Text(f"  violates {name} at step {step}", style="red"))
    if not res.violations:
        out.print("  violates no property")
    if res.deadlock:
        out.print(Text("  ends in a deadlock: no action is enabled in its last state", style="red"))
    if res.loop_closes is False:
        out.print(Text("  its loop does not close: no action leads from the last state back to the loop's start",
                       style="red"))
    elif res.loop_closes:
        out.print(f"  its loop closes: {res.closed_by} leads from the last state back to the loop's start"
                  if res.closed_by else "  its loop stutters: the last state repeats forever")
        out.print(Text(f"  its cycle is not fair: it starves {', '.join(res.starved)}", style="red") if res.starved
                  else "  its cycle is fair: it starves no fair action")
    return 0
