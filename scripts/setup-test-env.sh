#!/usr/bin/env bash
# Prepares a machine for scripts/test.sh: the C toolchain pieces rdkafka's bundled librdkafka build
# needs (cmake, curl headers), and a Python virtualenv at .venv with the pinned Kafka clients.
# Idempotent: does nothing when everything is already there at the pinned versions.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Pinned versions of the Python test dependencies.
PY_PINS=(
    "kafka-python==3.0.12"
    "confluent-kafka==2.16.1"
    "pytest==9.2.0"
    "pytest-timeout==2.4.0"
    # deploy/ validation (tests/python/test_deploy_files.py): Kubernetes schemas bundled in the wheel,
    # so manifests validate offline; jsonschema and PyYAML are used directly by the test too.
    "kubernetes-validate==1.37.0"
    "jsonschema==4.26.0"
    "PyYAML==6.0.3"
)

have_curl_headers() {
    [ -f /usr/include/curl/curl.h ] || [ -f /usr/include/x86_64-linux-gnu/curl/curl.h ] \
        || [ -f /usr/include/aarch64-linux-gnu/curl/curl.h ]
}

have_libfaketime() {
    [ -f /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] \
        || [ -f /usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1 ]
}

# rdkafka (feature cmake-build) needs cmake, and a known upstream build bug asks for curl headers
# even with curl disabled. The chaos `skew` fault and its test need libfaketime (package faketime).
if ! command -v cmake >/dev/null 2>&1 || ! have_curl_headers || ! have_libfaketime; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup-test-env: installing cmake, libcurl4-openssl-dev and faketime"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q cmake libcurl4-openssl-dev faketime
    else
        echo "setup-test-env: cmake, libcurl4-openssl-dev and faketime are required (not root: install them yourself)" >&2
        exit 1
    fi
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "setup-test-env: creating .venv"
    if ! "$PYTHON" -m venv .venv; then
        # Debian's python3 splits venv (and ensurepip) into python3-venv.
        if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
            rm -rf .venv
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -q
            apt-get install -y -q python3-venv
            "$PYTHON" -m venv .venv
        else
            echo "setup-test-env: '$PYTHON -m venv' failed; install python3-venv" >&2
            exit 1
        fi
    fi
fi

pins_satisfied() {
    local pin name want have
    for pin in "${PY_PINS[@]}"; do
        name="${pin%%==*}"
        want="${pin##*==}"
        have="$(.venv/bin/python -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')"
        [ "$have" = "$want" ] || return 1
    done
}

if pins_satisfied; then
    echo "setup-test-env: .venv already has ${PY_PINS[*]}"
else
    echo "setup-test-env: installing ${PY_PINS[*]} into .venv"
    .venv/bin/python -m pip install --disable-pip-version-check -q "${PY_PINS[@]}"
fi

# promtool (tests/python/test_deploy_files.py checks deploy/prometheus with it) comes with Debian's
# `prometheus` package. Only the binaries are wanted: a policy-rc.d that denies service starts is in
# place during the install (containers), and on a systemd host the unit is disabled and stopped.
if ! command -v promtool >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup-test-env: installing promtool (Debian package prometheus, service left stopped)"
        export DEBIAN_FRONTEND=noninteractive
        policy_rc=/usr/sbin/policy-rc.d
        added_policy=0
        if [ ! -e "$policy_rc" ]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy_rc"
            chmod 755 "$policy_rc"
            added_policy=1
        fi
        apt_status=0
        apt-get install -y -q --no-install-recommends prometheus \
            || { apt-get update -q && apt-get install -y -q --no-install-recommends prometheus; } \
            || apt_status=$?
        if [ "$added_policy" -eq 1 ]; then
            rm -f "$policy_rc"
        fi
        [ "$apt_status" -eq 0 ] || exit "$apt_status"
        if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
            systemctl disable --now prometheus.service >/dev/null 2>&1 || true
        fi
    else
        echo "setup-test-env: promtool is required (apt-get install --no-install-recommends prometheus)" >&2
        exit 1
    fi
fi
