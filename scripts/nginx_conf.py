"""Renders the shipped nginx configuration (``deploy/nginx/``) from environment variables.

``python -m scripts.nginx_conf --site`` prints the site configuration
(``deploy/nginx/clinic.conf``, for nginx's ``http {}`` context) for an operator's
nginx; ``python -m scripts.nginx_conf --out DIR`` writes ``DIR/nginx.conf`` and
``DIR/clinic.conf`` for ``make run-prod`` (``nginx -p DIR -c DIR/nginx.conf``).

Why a renderer rather than a file to edit: the upstream servers and ports differ
per host, and nginx has no environment substitution of its own. Every value is
checked (a host:port, a number, a duration) so nothing else can end up in the file.

Settings (defaults suit ``make run-prod`` on one host):

* ``RASA_UPSTREAMS`` (``127.0.0.1:$RASA_PORT,127.0.0.1:$RASA_PORT_2``), ``WEB_UPSTREAMS``
  (``127.0.0.1:$WEB_PORT``): the servers behind the balancer.
* ``NGINX_HOST`` (``127.0.0.1``), ``NGINX_PORT`` (``8000``): where it listens.
* ``NGINX_MAX_FAILS`` (3), ``NGINX_FAIL_TIMEOUT`` (``10s``): a server that failed this often
  within this time is skipped for this time.
* ``NGINX_WORKER_CONNECTIONS`` (4096, per worker), ``NGINX_WORKER_PROCESSES`` (``auto``),
  ``NGINX_BACKLOG`` (``$SANIC_BACKLOG`` or 1024), ``NGINX_SOCKET_TIMEOUT`` (``75s``),
  ``NGINX_ACCESS_LOG`` (``/dev/stdout`` under the supervisor; ``--site``:
  ``/var/log/nginx/clinic-access.log``; ``off`` for none).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "deploy" / "nginx"
HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$")
DURATION = re.compile(r"^[0-9]{1,5}(ms|s|m)?$")
SIZE = re.compile(r"^[0-9]{1,9}[kKmM]?$")
PATH = re.compile(r"^(off|/[A-Za-z0-9_./-]+)$")


class ConfigError(ValueError):
    """A setting that would not make a valid, safe nginx configuration."""


def _servers(raw: str, what: str, max_fails: int, fail_timeout: str) -> str:
    entries = [e.strip() for e in raw.split(",") if e.strip()]
    if not entries:
        raise ConfigError(f"{what} is empty")
    bad = [e for e in entries if not HOST_PORT.match(e)]
    if bad:
        raise ConfigError(f"{what}: not host:port: {', '.join(bad)}")
    return "\n".join(f"    server {e} max_fails={max_fails} fail_timeout={fail_timeout};" for e in entries)


def _number(env: Dict[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name) or str(default)
    if not raw.isdigit() or int(raw) < minimum:
        raise ConfigError(f"{name} must be a whole number of at least {minimum} (got {raw!r})")
    return int(raw)


def _match(env: Dict[str, str], name: str, default: str, pattern: "re.Pattern[str]") -> str:
    value = env.get(name) or default
    if not pattern.match(value):
        raise ConfigError(f"{name}: {value!r} is not valid here")
    return value


def values(env: Optional[Dict[str, str]] = None, prefix: Optional[Path] = None) -> Dict[str, str]:
    """The placeholder values for ``env`` (``os.environ`` by default)."""
    env = dict(os.environ if env is None else env)
    rasa_port, rasa_port_2 = env.get("RASA_PORT", "5005"), env.get("RASA_PORT_2", "5006")
    max_fails = _number(env, "NGINX_MAX_FAILS", 3)
    fail_timeout = _match(env, "NGINX_FAIL_TIMEOUT", "10s", DURATION)
    host = env.get("NGINX_HOST") or "127.0.0.1"
    listen = f"{host}:{env.get('NGINX_PORT') or '8000'}"
    if not HOST_PORT.match(listen):
        raise ConfigError(f"NGINX_HOST/NGINX_PORT: {listen!r} is not host:port")
    connections = _number(env, "NGINX_WORKER_CONNECTIONS", 4096, minimum=64)
    workers = env.get("NGINX_WORKER_PROCESSES") or "auto"
    if workers != "auto" and not workers.isdigit():
        raise ConfigError("NGINX_WORKER_PROCESSES must be a number or 'auto'")
    rest_max = env.get("SANIC_REQUEST_MAX_SIZE") or "65536"
    if not SIZE.match(rest_max):
        raise ConfigError("SANIC_REQUEST_MAX_SIZE must be a size in bytes")
    out = {
        "RASA_SERVERS": _servers(env.get("RASA_UPSTREAMS") or f"127.0.0.1:{rasa_port},127.0.0.1:{rasa_port_2}",
                                 "RASA_UPSTREAMS", max_fails, fail_timeout),
        "WEB_SERVERS": _servers(env.get("WEB_UPSTREAMS") or f"127.0.0.1:{env.get('WEB_PORT', '8080')}",
                                "WEB_UPSTREAMS", max_fails, fail_timeout),
        "MAX_FAILS": str(max_fails),
        "FAIL_TIMEOUT": fail_timeout,
        "LISTEN": listen,
        "BACKLOG": str(_number(env, "NGINX_BACKLOG", int(env.get("SANIC_BACKLOG") or 1024))),
        "SOCKET_TIMEOUT": _match(env, "NGINX_SOCKET_TIMEOUT", "75s", DURATION),
        "REST_TIMEOUT": _match(env, "NGINX_REST_TIMEOUT", "30s", DURATION),
        "REST_MAX_BODY": rest_max,
        "ACCESS_LOG": _match(env, "NGINX_ACCESS_LOG", "/dev/stdout", PATH),
        "WORKER_CONNECTIONS": str(connections),
        "WORKER_PROCESSES": workers,
        "RLIMIT_NOFILE": str(2 * connections + 64),
        "PREFIX": str(prefix or ""),
    }
    return out


def render(template: str, vals: Dict[str, str]) -> str:
    """``template`` with every ``{{NAME}}`` replaced; an unknown name is an error."""
    def fill(m: "re.Match[str]") -> str:
        if m.group(1) not in vals:
            raise ConfigError(f"unknown placeholder {{{{{m.group(1)}}}}}")
        return vals[m.group(1)]

    return re.sub(r"\{\{([A-Z_0-9]+)\}\}", fill, template)


def write(out_dir: Path, env: Optional[Dict[str, str]] = None) -> Path:
    """Write ``nginx.conf`` and ``clinic.conf`` into ``out_dir``; the path of ``nginx.conf``."""
    out_dir = Path(out_dir).resolve()
    (out_dir / "tmp").mkdir(parents=True, exist_ok=True)
    vals = values(env, prefix=out_dir)
    for name in ("nginx.conf", "clinic.conf"):
        (out_dir / name).write_text(render((TEMPLATES / name).read_text(), vals))
    return out_dir / "nginx.conf"


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--site", action="store_true", help="print the site configuration (http {} context)")
    group.add_argument("--out", type=Path, help="write nginx.conf and clinic.conf into this folder")
    args = parser.parse_args(argv)
    try:
        if args.site:
            env = dict(os.environ)
            env.setdefault("NGINX_ACCESS_LOG", "/var/log/nginx/clinic-access.log")
            sys.stdout.write(render((TEMPLATES / "clinic.conf").read_text(), values(env)))
        else:
            print(write(args.out))
    except ConfigError as e:
        sys.exit(f"nginx configuration not written: {e}")


if __name__ == "__main__":
    main()
