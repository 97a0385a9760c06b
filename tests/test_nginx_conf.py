"""The shipped nginx configuration (deploy/nginx/, rendered by scripts/nginx_conf.py): nginx accepts
it, and it has the settings a reconnection storm and a dead Rasa server need. The production tests
(tests/prod/test_prod_balancer.py) send real traffic through it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from scripts import nginx_conf

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SOCKETS = 1000  # the widgets open at once the configuration must carry (the operator trial's peak)


def rendered(tmp_path: Path, **env: str) -> Path:
    base = {"RASA_PORT": "5005", "RASA_PORT_2": "5006", "WEB_PORT": "8080"}
    return nginx_conf.write(tmp_path / "nginx", {**base, **env})


def nginx_test(conf: Path) -> subprocess.CompletedProcess:
    assert Path(NGINX).exists(), "nginx is missing: run scripts/system_deps.sh as root"
    return subprocess.run([NGINX, "-t", "-e", "stderr", "-p", str(conf.parent), "-c", str(conf)],
                          capture_output=True, text=True, timeout=30)


def test_nginx_accepts_the_rendered_configuration(tmp_path):
    result = nginx_test(rendered(tmp_path))
    assert result.returncode == 0 and "test is successful" in result.stderr, result.stderr


def test_the_settings_a_storm_and_a_dead_server_need(tmp_path):
    conf = rendered(tmp_path)
    main, site = conf.read_text(), (conf.parent / "clinic.conf").read_text()
    connections = int(re.search(r"worker_connections (\d+);", main).group(1))
    assert connections >= 2 * SOCKETS  # per worker: one worker may accept every socket
    assert int(re.search(r"worker_rlimit_nofile (\d+);", main).group(1)) > connections
    # every upstream server is given up on only after 3 failures
    servers = re.findall(r"^\s*server (\S+) max_fails=(\d+) fail_timeout=(\d+)s;", site, re.M)
    assert {s for s, _, _ in servers} == {"127.0.0.1:5005", "127.0.0.1:5006", "127.0.0.1:8080"}
    assert all(int(fails) >= 3 for _, fails, _ in servers)
    socketio = re.search(r"location /socket.io/ \{(.*?)\n    \}", site, re.S).group(1)
    assert "proxy_set_header Upgrade $http_upgrade;" in socketio
    assert "proxy_set_header Connection $clinic_connection;" in socketio
    assert "proxy_http_version 1.1;" in socketio
    read_timeout = int(re.search(r"proxy_read_timeout (\d+)s;", socketio).group(1))
    assert read_timeout > 25 + 20  # Socket.IO's ping interval + ping timeout
    # sticky Socket.IO sessions, by client address
    assert re.search(r"upstream clinic_socketio \{\s*hash \$remote_addr consistent;", site)
    assert re.search(r"listen 127\.0\.0\.1:8000 backlog=(\d+);", site)
    assert int(re.search(r"backlog=(\d+)", site).group(1)) > 100


def test_rasas_http_api_is_not_routed_and_logs_carry_no_query_or_address(tmp_path):
    site = (rendered(tmp_path).parent / "clinic.conf").read_text()
    locations = re.findall(r"location (?:= )?(\S+) \{", site)
    assert set(locations) == {"/socket.io/", "/webhooks/rest/webhook", "/webhooks/rest/", "/", "/lb-health"}
    catch_all = re.search(r"location / \{(.*?)\n    \}", site, re.S).group(1)
    assert "proxy_pass http://clinic_web;" in catch_all  # /conversations, /model... go to the web app (404)
    log_format = re.search(r"log_format clinic '([^']*)'", site).group(1)
    assert "$request " not in log_format and "$args" not in log_format and "$request_uri" not in log_format
    assert "$remote_addr" not in log_format and "$http_" not in log_format


@pytest.mark.parametrize("env, problem", [
    ({"RASA_UPSTREAMS": "10.0.0.1:5005; include /etc/passwd"}, "RASA_UPSTREAMS: not host:port"),
    ({"WEB_UPSTREAMS": ""}, None),  # empty: the default
    ({"NGINX_MAX_FAILS": "3;"}, "NGINX_MAX_FAILS must be a whole number"),
    ({"NGINX_WORKER_CONNECTIONS": "10"}, "NGINX_WORKER_CONNECTIONS must be a whole number of at least 64"),
    ({"NGINX_SOCKET_TIMEOUT": "75s; x"}, "NGINX_SOCKET_TIMEOUT"),
    ({"NGINX_HOST": "0.0.0.0 ssl"}, "NGINX_HOST/NGINX_PORT"),
])
def test_settings_that_would_inject_configuration_are_refused(tmp_path, env, problem):
    if problem is None:
        assert nginx_test(rendered(tmp_path, **env)).returncode == 0
        return
    with pytest.raises(nginx_conf.ConfigError, match=re.escape(problem)):
        rendered(tmp_path, **env)


def test_an_operators_upstreams_render_into_a_valid_site(tmp_path):
    conf = rendered(tmp_path, RASA_UPSTREAMS="10.0.0.11:5005,10.0.0.12:5005,[::1]:5007",
                    WEB_UPSTREAMS="10.0.0.21:8080", NGINX_HOST="0.0.0.0", NGINX_PORT="8443")
    site = (conf.parent / "clinic.conf").read_text()
    assert site.count("server 10.0.0.11:5005 max_fails=3") == 2  # Socket.IO and REST upstreams
    assert "listen 0.0.0.0:8443" in site
    assert nginx_test(conf).returncode == 0
