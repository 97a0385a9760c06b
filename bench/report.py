"""The results table (text and Markdown), with ratios and targets, and the PNG chart.

``python -m bench.report [results.json]`` prints the table and draws the chart
again from a results file (default bench-output/results.json), measuring nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

# key path, label, unit, target (op, value, on: "ratio" | "abs"), higher is better.
# The targets are the understanding issue's speed budget against Rasa's default in the same run.
ROWS: List[Tuple[str, str, str, Optional[tuple], bool]] = [
    ("train.seconds", "training time", "s", ("<=", 0.25, "ratio"), False),
    ("train.cpu_seconds", "training CPU time", "s", None, False),
    ("train.peak_rss_mb", "training peak memory", "MB", None, False),
    ("server.startup_s", "start-up to /status", "s", ("<=", 0.5, "ratio"), False),
    ("server.rss_after_start_mb", "Rasa RSS after start-up", "MB", None, False),
    ("server.rss_after_load_mb", "Rasa RSS after the load", "MB", None, False),
    ("load.sequential.p50_ms", "sequential p50", "ms", ("<=", 0.8, "ratio"), False),
    ("load.sequential.p95_ms", "sequential p95", "ms", None, False),
    ("load.sequential.p99_ms", "sequential p99", "ms", None, False),
    ("load.sequential.msg_per_s", "sequential msg/s", "msg/s", None, True),
    ("load.paced.p50_ms", "20 paced visitors p50", "ms", None, False),
    ("load.paced.p95_ms", "20 paced visitors p95", "ms", None, False),
    ("load.paced.p99_ms", "20 paced visitors p99", "ms", None, False),
    ("load.paced.msg_per_s", "20 paced visitors msg/s", "msg/s", None, True),
    ("load.saturation.msg_per_s", "saturation throughput", "msg/s", (">=", 1.5, "ratio"), True),
    ("load.saturation.users", "  at concurrent visitors", "", None, True),
    ("load.saturation.p50_ms", "  p50 at saturation", "ms", None, False),
    ("load.sequential.cpu_ms_per_msg_rasa", "Rasa CPU per message", "ms", None, False),
    ("load.sequential.cpu_ms_per_msg_actions", "action server CPU per message", "ms", None, False),
]


def get(d: Dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def accuracy_rows(results: Dict[str, Any]) -> List[Tuple[str, str, str, Optional[tuple], bool]]:
    groups: List[str] = []
    for model in results["models"].values():
        for g in get(model, "accuracy.groups") or {}:
            if g not in groups:
                groups.append(g)
    return [(f"accuracy.groups.{g}", f"accuracy {g}", "", (">=", 1.0, "ratio"), True) for g in groups]


def _fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if unit == "" and v <= 1.0:
            return f"{v:.3f}"
        return f"{v:.1f}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


FIXED = "project_fixed"  # optional column: the project's model with the recommended fixes


def _ratio(p: Any, d: Any) -> Optional[float]:
    if not (isinstance(p, (int, float)) and isinstance(d, (int, float))):
        return None
    if d == 0:
        return 1.0 if p == 0 else None
    return p / d


def _met(target: Optional[tuple], value: Any, ratio: Optional[float]) -> Optional[bool]:
    if not target:
        return None
    op, limit, on = target
    x = ratio if on == "ratio" else value
    if x is None:
        return None
    return x <= limit + 1e-9 if op == "<=" else x >= limit - 1e-9


def table(results: Dict[str, Any]) -> List[Dict[str, Any]]:
    models = results["models"]
    project, default, fixed = models.get("project", {}), models.get("default", {}), models.get(FIXED)
    rows = []
    for key, label, unit, target, _higher in ROWS + accuracy_rows(results):
        p, d = get(project, key), get(default, key)
        ratio = _ratio(p, d)
        row = {"key": key, "label": label, "unit": unit, "project": p, "default": d, "ratio": ratio,
               "target": (f"{'ratio ' if target[2] == 'ratio' else ''}{target[0]} {target[1]:g}" if target else ""),
               "met": _met(target, p, ratio)}
        if fixed is not None:
            f = get(fixed, key)
            row.update(fixed=f, fixed_ratio=_ratio(f, d), fixed_met=_met(target, f, _ratio(f, d)))
        rows.append(row)
    return rows


def _columns(rows: List[Dict[str, Any]], md: bool) -> List[List[str]]:
    has_fixed = any("fixed" in r for r in rows)
    yes, no = ("yes", "**no**") if md else ("yes", "NO")
    out = []
    for r in rows:
        label = (r["label"].strip() if md else r["label"]) + (f" ({r['unit']})" if r["unit"] else "")
        cells = [label, _fmt(r["project"], r["unit"]), _fmt(r["default"], r["unit"]),
                 f"{r['ratio']:.2f}" if r["ratio"] is not None else "-"]
        if has_fixed:
            cells += [_fmt(r.get("fixed"), r["unit"]),
                      f"{r['fixed_ratio']:.2f}" if r.get("fixed_ratio") is not None else "-"]
        cells.append(r["target"])
        cells.append({True: yes, False: no, None: ""}[r["met"]])
        if has_fixed:
            cells.append({True: yes, False: no, None: ""}[r.get("fixed_met")])
        out.append(cells)
    return out


def _header(rows: List[Dict[str, Any]]) -> List[str]:
    has_fixed = any("fixed" in r for r in rows)
    head = ["figure", "project", "default", "proj/def"]
    if has_fixed:
        head += ["proj+fixes", "fixes/def"]
    head += ["target", "met"]
    if has_fixed:
        head += ["met+fixes"]
    return head


def render_text(rows: List[Dict[str, Any]]) -> str:
    head = _header(rows)
    body = _columns(rows, md=False)
    widths = [max(len(c[i]) for c in [head] + body) for i in range(len(head))]
    numeric = range(1, len(head) - (3 if len(head) > 7 else 2))

    def line(cells: List[str]) -> str:
        return "  ".join(f"{c:>{w}}" if i in numeric else f"{c:<{w}}"
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    lines = [line(head), "-" * sum(w + 2 for w in widths)]
    return "\n".join(lines + [line(c) for c in body])


def render_markdown(rows: List[Dict[str, Any]]) -> str:
    head = _header(rows)
    n_text = 3 if len(head) > 7 else 2
    lines = ["| " + " | ".join(head) + " |",
             "|---|" + "---:|" * (len(head) - 1 - n_text) + "---|" * n_text]
    lines += ["| " + " | ".join(c) + " |" for c in _columns(rows, md=True)]
    return "\n".join(lines)


def chart(results: Dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = [m for m in ("project", "default", FIXED) if m in results["models"]]
    colors = {"project": "#2a7ab0", "default": "#c0504d", FIXED: "#4f9a55"}
    panels = [
        ("Latency (ms, log scale)", [("seq p50", "load.sequential.p50_ms"), ("seq p95", "load.sequential.p95_ms"),
                                     ("seq p99", "load.sequential.p99_ms"), ("paced p50", "load.paced.p50_ms"),
                                     ("paced p95", "load.paced.p95_ms"), ("paced p99", "load.paced.p99_ms")], True),
        ("Throughput (msg/s)", [("sequential", "load.sequential.msg_per_s"),
                                ("saturation", "load.saturation.msg_per_s")], False),
        ("Time (s, log scale)", [("training", "train.seconds"), ("start-up", "server.startup_s")], True),
        ("Memory (MB)", [("training peak", "train.peak_rss_mb"), ("server after load", "server.rss_after_load_mb")],
         False),
        ("CPU per message (ms)", [("Rasa", "load.sequential.cpu_ms_per_msg_rasa"),
                                  ("action server", "load.sequential.cpu_ms_per_msg_actions")], False),
    ]
    groups = [r[0].split(".")[-1] for r in accuracy_rows(results)]
    fig, axes = plt.subplots(2, 3, figsize=(17, 9))
    for ax, (title, items, log) in zip(axes.flat, panels):
        width = 0.8 / len(models)
        for i, m in enumerate(models):
            vals = [get(results["models"][m], k) or 0 for _, k in items]
            xs = [j + i * width for j in range(len(items))]
            bars = ax.bar(xs, vals, width, label=m, color=colors[m])
            for b, v in zip(bars, vals):
                ax.annotate(f"{v:.0f}" if v >= 10 else f"{v:.1f}", (b.get_x() + b.get_width() / 2, b.get_height()),
                            ha="center", va="bottom", fontsize=7)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(items))])
        ax.set_xticklabels([lbl for lbl, _ in items], fontsize=8)
        ax.set_title(title, fontsize=10)
        if log:
            ax.set_yscale("log")
            ax.set_ylim(bottom=1)
        ax.legend(fontsize=8)
    ax = axes.flat[5]
    width = 0.8 / len(models)
    for i, m in enumerate(models):
        vals = [get(results["models"][m], f"accuracy.groups.{g}") or 0 for g in groups]
        ax.barh([j + i * width for j in range(len(groups))], vals, width, label=m, color=colors[m])
    ax.set_yticks([j + 0.4 - width / 2 for j in range(len(groups))])
    ax.set_yticklabels(groups, fontsize=7)
    ax.set_xlim(0, 1.05)
    ax.invert_yaxis()
    ax.set_title("Accuracy (share right)", fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=len(models))
    env = results.get("environment", {})
    fig.suptitle(f"Clinic assistant: project config vs Rasa default, {results.get('finished', '')} "
                 f"({env.get('cpus', '?')} CPUs, load avg at start {env.get('loadavg_start', '?')})", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(out, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    import json
    import sys

    src = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "bench-output" / "results.json")
    data = json.loads(src.read_text())
    rows = table(data)
    print(render_text(rows))
    chart(data, src.with_suffix(".png"))
    print(f"chart: {src.with_suffix('.png')}")
