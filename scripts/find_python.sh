#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter, or explains what to install.
# Rasa 3.6 installs only on Python 3.8-3.10; this project pins 3.10.
set -u
is310() { "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1; }
candidates=("${PYTHON:-}" python3.10)
pyenv_root="${PYENV_ROOT:-$(command -v pyenv >/dev/null 2>&1 && pyenv root || echo "$HOME/.pyenv")}"
for p in "$pyenv_root"/versions/3.10.*/bin/python /usr/local/bin/python3.10 /usr/bin/python3.10 python3; do
  candidates+=("$p")
done
for c in "${candidates[@]}"; do
  [ -n "$c" ] || continue
  path=$(command -v "$c" 2>/dev/null) || continue
  if is310 "$path"; then echo "$path"; exit 0; fi
done
cat >&2 <<'MSG'
No Python 3.10 found (Rasa 3.6 does not install on 3.11 or newer).
Install one, then run the command again:
  with pyenv:   pyenv install 3.10.13
  on Debian:    apt-get install python3.10 python3.10-venv   (or build from python.org)
Or point PYTHON at an interpreter: make run PYTHON=/path/to/python3.10
MSG
exit 1
