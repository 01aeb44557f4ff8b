#!/usr/bin/env bash
# Builds the strom image (and optionally the Prometheus image of the compose `monitoring` profile)
# FROM scratch, with no registry access: the binary, the shared libraries `ldd` lists for it (the
# dynamic loader included) and a few files under /etc go into a small build context in a temp dir.
#
#   deploy/docker/build-image.sh                          # cargo build --release, then strom:dev
#   deploy/docker/build-image.sh --binary target/debug/strom --tag strom:test
#   deploy/docker/build-image.sh --prometheus             # also strom-prometheus:dev from /usr/bin/prometheus
#   deploy/docker/build-image.sh --prometheus-only        # only the Prometheus image
#
# The binary's debug info is stripped in the copy (the original is untouched), so a debug build makes
# an image of reasonable size too. Needs: docker, ldd, objcopy (binutils); cargo when --binary is
# not given.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

usage() {
    cat <<'USAGE'
Usage: deploy/docker/build-image.sh [options]

  --binary PATH             strom binary to package (default: cargo build --release -p strom-cli)
  --tag TAG                 strom image tag (default: strom:dev)
  --prometheus              also build the Prometheus image
  --prometheus-only         build only the Prometheus image
  --prometheus-binary PATH  Prometheus binary (default: /usr/bin/prometheus, Debian's `prometheus`)
  --prometheus-tag TAG      Prometheus image tag (default: strom-prometheus:dev)
  -q, --quiet               only print the image ids
  -h, --help                this text
USAGE
}

binary=""
tag="strom:dev"
build_strom=1
build_prometheus=0
prometheus_binary="/usr/bin/prometheus"
prometheus_tag="strom-prometheus:dev"
quiet=0

need_value() {
    if [ "$#" -lt 2 ] || [ -z "$2" ]; then
        echo "build-image.sh: $1 needs a value" >&2
        exit 2
    fi
}

while [ "$#" -gt 0 ]; do
    case "$1" in
        --binary) need_value "$@"; binary="$2"; shift 2 ;;
        --tag) need_value "$@"; tag="$2"; shift 2 ;;
        --prometheus) build_prometheus=1; shift ;;
        --prometheus-only) build_prometheus=1; build_strom=0; shift ;;
        --prometheus-binary) need_value "$@"; prometheus_binary="$2"; shift 2 ;;
        --prometheus-tag) need_value "$@"; prometheus_tag="$2"; shift 2 ;;
        -q|--quiet) quiet=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "build-image.sh: unknown argument \`$1\`" >&2; usage >&2; exit 2 ;;
    esac
done

log() {
    [ "$quiet" -eq 1 ] || echo "build-image.sh: $*" >&2
}

for tool in docker ldd; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "build-image.sh: \`$tool\` is required" >&2
        exit 1
    fi
done

# Copies every shared library `ldd` lists for $1 (and the loader) into the rootfs $2 at the same
# path, following symlinks. A statically linked binary needs none.
copy_libraries() {
    local binary="$1" rootfs="$2" output line path
    if ! output="$(ldd "$binary" 2>&1)"; then
        case "$output" in
            *"not a dynamic executable"*|*"statically linked"*) log "$binary is static"; return 0 ;;
            *) echo "build-image.sh: ldd $binary failed: $output" >&2; exit 1 ;;
        esac
    fi
    while IFS= read -r line; do
        case "$line" in
            *"not found"*) echo "build-image.sh: $binary needs a missing library: $line" >&2; exit 1 ;;
            *"=> /"*) path="${line#*=> }"; path="${path%% (*}" ;;
            *"statically linked"*) continue ;;
            */*) path="${line#"${line%%[![:space:]]*}"}"; path="${path%% (*}" ;;
            *) continue ;;  # linux-vdso.so.1: provided by the kernel
        esac
        mkdir -p "$rootfs$(dirname "$path")"
        cp -L "$path" "$rootfs$path"
        log "  + $path"
    done <<<"$output"
}

# The /etc files and /tmp every image gets; $2 is the unprivileged user line for /etc/passwd.
base_files() {
    local rootfs="$1" user="$2" group="$3"
    mkdir -p "$rootfs/etc" "$rootfs/tmp"
    chmod 1777 "$rootfs/tmp"
    printf 'root:x:0:0:root:/root:/sbin/nologin\n%s\n' "$user" >"$rootfs/etc/passwd"
    printf 'root:x:0:\n%s\n' "$group" >"$rootfs/etc/group"
    # glibc ≥ 2.34 has the files and dns modules built in; this only states the order.
    printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
}

docker_build() {
    local context="$1" dockerfile="$2" image="$3" id
    cp "$dockerfile" "$context/Dockerfile"
    log "docker build -t $image ($(du -sh "$context" | cut -f1) context)"
    if [ "$quiet" -eq 1 ]; then
        if ! id="$(docker build -q -t "$image" "$context" 2>"$context.log")"; then
            cat "$context.log" >&2
            exit 1
        fi
        echo "$id"
    else
        docker build -t "$image" "$context" >&2
        log "built $image: $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.1f MB", $1 / 1e6}')"
    fi
}

work="$(mktemp -d "${TMPDIR:-/tmp}/strom-image.XXXXXX")"
trap 'rm -rf "$work"' EXIT

if [ "$build_strom" -eq 1 ]; then
    if [ -z "$binary" ]; then
        log "cargo build --release -p strom-cli"
        (cd "$repo" && cargo build --release -p strom-cli >&2)
        target_dir="$(cd "$repo" && cargo metadata --format-version 1 --no-deps \
            | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
        binary="${target_dir:-$repo/target}/release/strom"
    fi
    if [ ! -x "$binary" ]; then
        echo "build-image.sh: $binary is not an executable file" >&2
        exit 1
    fi
    context="$work/strom"
    mkdir -p "$context/rootfs" "$context/data"
    log "packaging $binary"
    if command -v objcopy >/dev/null 2>&1; then
        objcopy --strip-debug "$binary" "$context/rootfs/strom"
    else
        log "objcopy not found: copying the binary with its debug info"
        cp "$binary" "$context/rootfs/strom"
    fi
    chmod 0755 "$context/rootfs/strom"
    copy_libraries "$binary" "$context/rootfs"
    base_files "$context/rootfs" 'strom:x:65532:65532:strom:/var/lib/strom:/sbin/nologin' 'strom:x:65532:'
    docker_build "$context" "$here/Dockerfile" "$tag"
fi

if [ "$build_prometheus" -eq 1 ]; then
    if [ ! -x "$prometheus_binary" ]; then
        echo "build-image.sh: $prometheus_binary not found; install Debian's package first:" \
            "apt-get install -y --no-install-recommends prometheus" >&2
        exit 1
    fi
    context="$work/prometheus"
    mkdir -p "$context/rootfs/bin" "$context/rootfs/etc/prometheus" "$context/data"
    log "packaging $prometheus_binary"
    cp -L "$prometheus_binary" "$context/rootfs/bin/prometheus"
    chmod 0755 "$context/rootfs/bin/prometheus"
    copy_libraries "$prometheus_binary" "$context/rootfs"
    if [ -d /usr/share/prometheus/web ]; then
        # Symlinks into /usr/share/javascript resolved; moment-timezone's 200 MB of raw zone data is
        # not used by the UI (it loads moment-timezone-with-data.min.js).
        mkdir -p "$context/rootfs/usr/share/prometheus"
        tar -C /usr/share/prometheus --dereference --exclude='moment-timezone/data' -cf - web \
            | tar -C "$context/rootfs/usr/share/prometheus" -xf -
    fi
    cat >"$context/rootfs/etc/prometheus/prometheus.yml" <<'YAML'
# Default config of strom-prometheus: scrape itself. The compose file mounts deploy/prometheus/ here.
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:9090"]
YAML
    base_files "$context/rootfs" 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' 'nogroup:x:65534:'
    docker_build "$context" "$here/prometheus.Dockerfile" "$prometheus_tag"
fi
