#!/usr/bin/env bash
# Installs what the build, `make run` and `make test` need and is missing: Debian packages
# (with sudo when not root) and a Python venv with the test-only clients and stand-ins.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libmongoc-dev librabbitmq-dev libcurl4-openssl-dev libsqlite3-dev rabbitmq-server pkg-config
          python3-venv curl groff-base
          nginx)  # nginx: deploy/nginx.conf's test runs it as its own process (own prefix, free port)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    # apt may have started a system nginx on port 80 (systemd machines); the tests never use it. A web
    # server we installed only as a test tool should not keep serving, so stop and disable it again.
    if [[ " ${missing[*]} " == *" nginx "* ]] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        $sudo systemctl disable --now nginx >/dev/null 2>&1 || true
    fi
fi

# Test-only Python tools: real third-party clients and the MongoDB wire stand-in.
python_packages=(mockupdb mongomock pymongo "python-socketio[client]" websocket-client pika requests schemathesis)
stamp=".venv/.chatd-deps-2"
if [ ! -f "$stamp" ]; then
    echo "deps: preparing .venv" >&2
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check "${python_packages[@]}"
    touch "$stamp"
fi
