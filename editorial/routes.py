"""``python -m editorial.routes [--write]``: write (or, without --write, check) what the routing table generates.

See :mod:`editorial.generated` for what is generated; ``make validate`` runs
the same comparison and names this command when something is out of date.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from clinic.routing import RoutingError, RoutingTable
from editorial.generated import COMMAND, differences

ROOT = Path(__file__).resolve().parent.parent


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m editorial.routes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT, help="project root (default: this repository)")
    parser.add_argument("--write", action="store_true", help="write the generated files and regions")
    args = parser.parse_args(argv)
    try:
        table = RoutingTable.load(args.root / "content" / "routing.yml")
    except RoutingError as e:
        print(f"ROUTING TABLE INVALID: {e}", file=sys.stderr)
        return 2
    found = differences(args.root, table, write=args.write)
    for d in found:
        where = f"{d.file}:{d.line}" if d.line else d.file
        print(f"{'wrote' if args.write else 'OUT OF DATE'} {where}: {d.what}")
    if args.write:
        print("Generated files match content/routing.yml." + (" Next: `make validate`, `make train`." if found else ""))
        return 0 if not any("region" in d.what and "has no" in d.what for d in found) else 1
    if found:
        print(f"Run `{COMMAND}` to bring them up to date.")
        return 1
    print("Generated files match content/routing.yml.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
