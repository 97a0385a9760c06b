"""Waits until every URL given answers 200, or fails after a timeout (default 180 s)."""

import os
import sys
import time
import urllib.request

deadline = time.monotonic() + float(os.environ.get("READY_TIMEOUT", 180))
pending = list(sys.argv[1:])
while pending:
    url = pending[0]
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                pending.pop(0)
                continue
    except Exception:
        pass
    if time.monotonic() > deadline:
        sys.exit(f"Not ready in time: {url.split('?')[0]}")
    time.sleep(0.5)
