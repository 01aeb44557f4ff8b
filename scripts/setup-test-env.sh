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
)

have_curl_headers() {
    [ -f /usr/include/curl/curl.h ] || [ -f /usr/include/x86_64-linux-gnu/curl/curl.h ] \
        || [ -f /usr/include/aarch64-linux-gnu/curl/curl.h ]
}

# rdkafka (feature cmake-build) needs cmake, and a known upstream build bug asks for curl headers
# even with curl disabled.
if ! command -v cmake >/dev/null 2>&1 || ! have_curl_headers; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup-test-env: installing cmake and libcurl4-openssl-dev"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q cmake libcurl4-openssl-dev
    else
        echo "setup-test-env: cmake and libcurl4-openssl-dev are required (not root: install them yourself)" >&2
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
