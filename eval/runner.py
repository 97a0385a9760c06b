"""Run cases against the assistant a few at a time, score them per set and group, print the table.

Cases are independent conversations (a fresh sender id each; a script keeps one
sender for its turns), so a small thread pool overlaps the network waits and
keeps `make eval` short without changing any verdict.
"""

from __future__ import annotations

import sys
import urllib.error
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import yaml

from eval.scoring import Bot, Case, Script, judge, turn_ok

HERE = Path(__file__).resolve().parent
THRESHOLDS = HERE / "thresholds.yml"
# The order of the table's rows within a set.
GROUP_ORDER = ("topic", "medical", "medical_handoff", "crisis", "distress", "staff", "small", "oos", "multi",
               "probe_oos", "probe_small")


@dataclass
class Outcome:
    """The verdict on one case or script, with what the assistant answered."""

    set: str
    group: str
    ok: bool
    text: str
    expect: List[str]
    ids: List[str]
    source: Optional[str] = None
    script: Optional[str] = None  # the script's name, for a multi-turn outcome
    error: Optional[str] = None
    # For a script: the turns that were wrong, as {text, expect, ids}.
    missed_turns: List[Dict[str, Any]] = field(default_factory=list)


@dataclass
class Row:
    """One line of the table: a group of a set."""

    set: str
    group: str
    right: int
    count: int
    threshold: Optional[float]

    @property
    def score(self) -> float:
        return self.right / self.count if self.count else 0.0

    @property
    def passed(self) -> bool:
        return self.threshold is not None and self.count > 0 and self.score >= self.threshold


def _error(e: Exception) -> str:
    """A short description of a failed request (never the URL: it carries the token)."""
    if isinstance(e, urllib.error.HTTPError):
        return f"ERROR HTTP {e.code}"
    return f"ERROR {type(e).__name__}: {getattr(e, 'reason', None) or e}"


def run_case(bot: Bot, case: Case) -> Outcome:
    """One case as the first message of a new conversation; a server error is a miss, not a crash."""
    try:
        ids = bot.turn(f"eval-{uuid.uuid4().hex[:12]}", case.text)
        ok, error = judge(case.judged_as, case.expect, ids), None
    except Exception as e:  # noqa: BLE001 - any failure of the server counts against it
        ids, ok, error = [], False, _error(e)
    return Outcome(case.set, case.group, ok, case.text, list(case.expect), ids, case.source, error=error)


def run_script(bot: Bot, script: Script) -> Outcome:
    """Every turn of a script in one conversation; right when each checked turn is (the referee's rule:
    a wrong turn does not stop the script, a failed request does)."""
    sender = f"eval-mt-{uuid.uuid4().hex[:12]}"
    ok, error, missed = True, None, []
    for t in script.turns:
        try:
            ids = bot.turn(sender, t["text"])
        except Exception as e:  # noqa: BLE001
            ok, error = False, _error(e)
            missed.append({"text": t["text"], "expect": t.get("expect"), "ids": [error]})
            break
        if not turn_ok(t.get("expect"), ids):
            ok = False
            missed.append({"text": t["text"], "expect": t.get("expect"), "ids": ids})
    first = script.turns[0]["text"] if script.turns else ""
    return Outcome(script.set, "multi", ok, first, [], [], script.source, script=script.name, error=error,
                   missed_turns=missed)


def run_all(bot: Bot, cases: Sequence[Case], scripts: Sequence[Script] = (), workers: int = 4,
            progress: Optional[Callable[[int, int], None]] = None) -> List[Outcome]:
    """Every case and script, ``workers`` at a time; outcomes in the order given."""
    jobs: List[Union[Case, Script]] = [*cases, *scripts]

    def one(job: Union[Case, Script]) -> Outcome:
        return run_script(bot, job) if isinstance(job, Script) else run_case(bot, job)

    out: List[Outcome] = []
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for i, outcome in enumerate(pool.map(one, jobs), 1):
            out.append(outcome)
            if progress:
                progress(i, len(jobs))
    return out


def load_thresholds(path: Path = THRESHOLDS) -> Callable[[str, str], Optional[float]]:
    """``bar(set, group)``: the least share right that group of that set must reach (None: no bar)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    groups: Dict[str, float] = data.get("groups") or {}
    sets: Dict[str, Dict[str, float]] = data.get("sets") or {}

    def bar(set_name: str, group: str) -> Optional[float]:
        value = (sets.get(set_name) or {}).get(group, groups.get(group))
        return None if value is None else float(value)

    return bar


def summarize(outcomes: Iterable[Outcome], bar: Callable[[str, str], Optional[float]]) -> List[Row]:
    """One row per set and group, plus ``medical_handoff``: of the medical cases, those that got that id."""
    counts: Dict[Tuple[str, str], List[int]] = {}
    for o in outcomes:
        c = counts.setdefault((o.set, o.group), [0, 0])
        c[0] += o.ok
        c[1] += 1
        if o.group == "medical":
            h = counts.setdefault((o.set, "medical_handoff"), [0, 0])
            h[0] += "medical_handoff" in o.ids
            h[1] += 1
    sets: List[str] = []
    for s, _ in counts:
        if s not in sets:
            sets.append(s)
    rank = {g: i for i, g in enumerate(GROUP_ORDER)}
    keys = sorted(counts, key=lambda k: (sets.index(k[0]), rank.get(k[1], len(rank)), k[1]))
    return [Row(s, g, counts[(s, g)][0], counts[(s, g)][1], bar(s, g)) for s, g in keys]


def misses(outcomes: Iterable[Outcome]) -> List[Outcome]:
    """The outcomes to list under the table: every wrong case and script, and the medical cases
    that were handed off but not as ``medical_handoff`` (they count in that row)."""
    out = []
    for o in outcomes:
        if not o.ok:
            out.append(o)
        elif o.group == "medical" and "medical_handoff" not in o.ids:
            out.append(Outcome(o.set, "medical_handoff", False, o.text, ["medical_handoff"], o.ids, o.source))
    return out


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    """The referee's percentile: the value at index ``int(len * q)`` of the sorted list."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def render(rows: Sequence[Row], missed: Sequence[Outcome], latencies: Sequence[float], errors: int) -> str:
    """The table, then the misses, then latency and the verdict, as plain text."""
    lines = [f"{'set':<12} {'group':<16} {'score':>6} {'right/count':>12} {'threshold':>10}  result",
             "-" * 66]
    for r in rows:
        bar = "none" if r.threshold is None else f">= {r.threshold:.2f}"
        result = "pass" if r.passed else "FAIL"
        lines.append(f"{r.set:<12} {r.group:<16} {r.score:>6.3f} {f'{r.right}/{r.count}':>12} {bar:>10}  {result}")
    if missed:
        lines += ["", f"Misses ({len(missed)}):"]
        for o in missed:
            where = f"[{o.set}/{o.group}]"
            src = f"  (source: {o.source})" if o.source else ""
            if o.script is not None:
                lines.append(f"{where} {o.script!r}{src}")
                for t in o.missed_turns:
                    lines.append(f"    turn {t['text']!r}: expected {t['expect']}, got {t['ids']}")
            else:
                got = [o.error] if o.error else o.ids
                lines.append(f"{where} {o.text!r}: expected {o.expect}, got {got}{src}")
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    lines.append("")
    if p50 is not None and p95 is not None:
        lines.append(f"latency per message (REST POST): p50 {1000 * p50:.1f} ms, p95 {1000 * p95:.1f} ms "
                     f"over {len(latencies)} messages")
    lines.append(f"request errors: {errors}")
    failed = [f"{r.set}/{r.group}" for r in rows if not r.passed]
    lines.append("RESULT: " + ("all groups at or above their thresholds" if not failed
                               else f"below threshold: {', '.join(failed)}"))
    return "\n".join(lines)


def report(rows: Sequence[Row], outcomes: Sequence[Outcome], latencies: Sequence[float]) -> Dict[str, Any]:
    """Everything, for ``--json``: the table, the misses, every outcome and the latency."""
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    return {
        "passed": all(r.passed for r in rows),
        "summary": {f"{r.set}/{r.group}": round(r.score, 3) for r in rows},
        "rows": [{"set": r.set, "group": r.group, "score": round(r.score, 4), "right": r.right,
                  "count": r.count, "threshold": r.threshold, "passed": r.passed} for r in rows],
        "errors": sum(1 for o in outcomes if o.error),
        "latency_ms_p50": None if p50 is None else round(1000 * p50, 1),
        "latency_ms_p95": None if p95 is None else round(1000 * p95, 1),
        "messages": len(latencies),
        "misses": [asdict(o) for o in misses(outcomes)],
        "outcomes": [asdict(o) for o in outcomes],
    }


def progress_printer(every: int = 200) -> Callable[[int, int], None]:
    """A progress line on stderr every ``every`` outcomes (the table goes to stdout)."""

    def show(done: int, total: int) -> None:
        if done % every == 0 or done == total:
            print(f"[eval] {done}/{total} scored", file=sys.stderr, flush=True)

    return show


# --- the project's sets -----------------------------------------------------------
CASES = HERE / "cases"
PROBES = HERE / "probes" / "clinc150_dev.json"
SETS = ("own", "third_party", "probes")
DEFAULT_PROBE_N = 1000


def load_sets(names: Sequence[str] = SETS, probe_n: int = DEFAULT_PROBE_N,
              extra: Sequence[Path] = ()) -> Tuple[List[Case], List[Script]]:
    """The cases and scripts of the named sets (``own``, ``third_party``: eval/cases/; ``probes``:
    ``probe_n`` CLINC150 probes), and of any other case file in the same format."""
    from eval.scoring import load_cases, load_probes

    cases: List[Case] = []
    scripts: List[Script] = []
    for name in names:
        if name == "probes":
            cases += load_probes(PROBES, probe_n) if probe_n > 0 else []
        elif name in SETS:
            c, s = load_cases(CASES / f"{name}.yml", name)
            cases, scripts = cases + c, scripts + s
        else:
            raise ValueError(f"unknown set {name!r}: choose from {', '.join(SETS)}")
    for path in extra:
        c, s = load_cases(Path(path))
        cases, scripts = cases + c, scripts + s
    return cases, scripts


@dataclass
class Evaluation:
    """What one run measured: the table, every outcome, the latency of every message."""

    rows: List[Row]
    outcomes: List[Outcome]
    latencies: List[float]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows)

    @property
    def errors(self) -> int:
        return sum(1 for o in self.outcomes if o.error)

    def table(self) -> str:
        return render(self.rows, misses(self.outcomes), self.latencies, self.errors)

    def as_json(self) -> Dict[str, Any]:
        return report(self.rows, self.outcomes, self.latencies)


def evaluate(url: str, token: str, names: Sequence[str] = SETS, probe_n: int = DEFAULT_PROBE_N,
             workers: int = 4, extra: Sequence[Path] = (),
             progress: Optional[Callable[[int, int], None]] = None) -> Evaluation:
    """Score the assistant at ``url`` on the named sets; the bars come from eval/thresholds.yml."""
    cases, scripts = load_sets(names, probe_n, extra)
    bot = Bot(url, token)
    outcomes = run_all(bot, cases, scripts, workers, progress)
    return Evaluation(summarize(outcomes, load_thresholds()), outcomes, list(bot.latencies))
