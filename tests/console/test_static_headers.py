"""Static files are sent with ``X-Content-Type-Options: nosniff`` and a Content-Security-Policy
that lets nothing run should one be opened as a document; pages keep their own policies."""

from __future__ import annotations

import requests


def test_static_files_say_nosniff_and_carry_a_locked_down_policy(console):
    for path, kind in (("/static/widget/clinic-chat.js", "javascript"), ("/static/site/site.css", "text/css")):
        r = requests.get(console.url + path, timeout=30)
        assert r.status_code == 200 and kind in r.headers["content-type"], (path, r.status_code)
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
        policy = r.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "sandbox" in policy and "frame-ancestors 'none'" in policy
    missing = requests.get(console.url + "/static/widget/no-such-file.js", timeout=30)
    assert missing.status_code == 404 and missing.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_keep_their_own_policy_and_every_response_says_nosniff(console):
    page = requests.get(console.url + "/", timeout=30)
    assert "connect-src" in page.headers["Content-Security-Policy"]  # the site's, not the static one
    assert "sandbox" not in page.headers["Content-Security-Policy"]
    console_css = requests.get(console.url + "/staff/static/console.css", timeout=30)
    assert "style-src 'self'" in console_css.headers["Content-Security-Policy"]  # the console's
    for path in ("/healthz", "/", "/staff/login"):
        assert requests.get(console.url + path, timeout=30).headers["X-Content-Type-Options"] == "nosniff", path
