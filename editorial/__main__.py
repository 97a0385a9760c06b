"""``python -m editorial check``: the clinic's content checks (part of ``make validate``).

Exit status 0 when there is no error (warnings are printed but do not fail),
1 when there is at least one error. All findings are printed, not just the first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from clinic import settings
from editorial.checks import print_result, run_checks
from editorial.project import Project

ROOT = Path(__file__).resolve().parent.parent


def from_env(name: str, root: Path) -> Path | None:
    """The servers read APPROVED_CONTENT / CLINIC_CONFIG when set: check the same files.

    Only for this repository; a copy given with --root is checked with its own files.
    """
    return settings.get_path(name) if root.resolve() == ROOT else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m editorial", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="run the content checks")
    check.add_argument("--root", type=Path, default=ROOT, help="project root (default: this repository)")
    check.add_argument("--approved", type=Path,
                       help="approved-content file (default: $APPROVED_CONTENT, else <root>/content/approved.yml)")
    check.add_argument("--clinic", type=Path,
                       help="clinic details (default: $CLINIC_CONFIG, else <root>/content/clinic.yml)")
    check.add_argument("--today", type=dt.date.fromisoformat, help="check dates as if today were YYYY-MM-DD")
    check.add_argument("--go-live", action="store_true",
                       help="also fail on placeholder clinic details and pending sign-offs (make go-live-check)")
    args = parser.parse_args(argv)

    project = Project(args.root, approved=args.approved or from_env("APPROVED_CONTENT", args.root),
                      clinic=args.clinic or from_env("CLINIC_CONFIG", args.root))
    result = run_checks(project, today=args.today, go_live=args.go_live)
    print_result(result, project)
    if result.ok:
        project.write_fingerprint()  # the baseline when the project has no git history
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
