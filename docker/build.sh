#!/usr/bin/env bash
# Builds the ferrokeeper images from docker/Dockerfile with a small staged build context (the
# binary, bin/, docker/ -- plus the sources and vendored crates for --from-source), so that
# neither the classic builder nor BuildKit has to send the whole target/ directory.
#
#   docker/build.sh [options]
#     --flavour official|bitnami|all   which image(s) (default: all)
#     --tag NAME                       image name for a single flavour (defaults:
#                                      official ferrokeeper:latest, bitnami ferrokeeper:bitnami)
#     --from-source                    compile in Docker instead of using a prebuilt binary
#     --builder-image IMAGE            Rust image for --from-source (default: rust:1-bookworm;
#                                      docker/make-builder.sh makes one without a registry)
#     --no-java-client                 leave out the JVM and the zkCli.sh Java client
#     --quiet                          pass -q to docker build
#     -- ARGS...                       extra arguments for docker build
#
# Environment:
#   FERROKEEPER_BIN   prebuilt binary (default: <repo>/target/release/ferrokeeper)
#   BASE_IMAGE        runtime base (default debian:bookworm-slim). When it is missing it is
#                     pulled, or made with docker/make-base.sh if pulling fails (no registry).
#   DOCKER_BUILDKIT   left alone when set; otherwise 0 (classic builder) unless buildx exists.
#
# Afterwards untagged images that earlier builds left (build stages, images replaced under the
# same tag; all labelled org.ferrokeeper.build=true) are pruned once they are 15 minutes old.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
repo="$(cd "$here/.." && pwd -P)"

flavour=all
tag=""
from_source=0
builder_image="rust:1-bookworm"
java_client=true
quiet=()
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --flavour) flavour="$2"; shift 2 ;;
        --flavour=*) flavour="${1#*=}"; shift ;;
        --tag) tag="$2"; shift 2 ;;
        --tag=*) tag="${1#*=}"; shift ;;
        --from-source) from_source=1; shift ;;
        --builder-image) builder_image="$2"; shift 2 ;;
        --builder-image=*) builder_image="${1#*=}"; shift ;;
        --no-java-client) java_client=false; shift ;;
        --quiet|-q) quiet=(-q); shift ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$flavour" in
    official|bitnami) targets=("$flavour") ;;
    all) targets=(official bitnami) ;;
    *) echo "build.sh: --flavour must be official, bitnami or all" >&2; exit 2 ;;
esac
if [ -n "$tag" ] && [ "${#targets[@]}" -ne 1 ]; then
    echo "build.sh: --tag needs --flavour official or --flavour bitnami" >&2
    exit 2
fi

log() { printf 'build.sh: %s\n' "$*" >&2; }

base="${BASE_IMAGE:-debian:bookworm-slim}"
if ! docker image inspect "$base" >/dev/null 2>&1; then
    log "$base is missing: trying docker pull, else making it with make-base.sh"
    if ! timeout 120 docker pull -q "$base" >/dev/null 2>&1; then
        "$here/make-base.sh" "$base"
    fi
fi

if [ -z "${DOCKER_BUILDKIT:-}" ]; then
    if docker buildx version >/dev/null 2>&1; then
        export DOCKER_BUILDKIT=1
    else
        export DOCKER_BUILDKIT=0
    fi
fi

ctx="$(mktemp -d "${TMPDIR:-/tmp}/ferrokeeper-docker-ctx.XXXXXX")"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/bin" "$ctx/docker"
cp -p "$repo/bin/zkServer.sh" "$ctx/bin/"
tar -C "$here" --exclude=./k8s -cf - . | tar -C "$ctx/docker" -xf -

build_args=(--build-arg "BASE_IMAGE=$base" --build-arg "WITH_JAVA_CLIENT=$java_client")
if [ "$from_source" -eq 1 ]; then
    log "staging the workspace sources and vendoring crates (offline when the cache has them)"
    # Every workspace file git knows of or would add (so not target/), else all but target/.
    if git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$repo" && git ls-files -z --cached --others --exclude-standard \
            | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
            | tar --null -T - -cf -) | tar -C "$ctx" -xf -
    else
        tar -C "$repo" --exclude=./target --exclude='./target-*' --exclude=./.git -cf - . \
            | tar -C "$ctx" -xf -
    fi
    mkdir -p "$ctx/.cargo"
    (cd "$repo" && { cargo vendor --locked --offline --versioned-dirs "$ctx/vendor" 2>/dev/null \
        || cargo vendor --locked --versioned-dirs "$ctx/vendor"; }) >"$ctx/vendor-config.toml"
    # cargo prints the source replacement with an absolute path; inside the image it is /src/vendor.
    sed "s#\"$ctx/vendor\"#\"vendor\"#" "$ctx/vendor-config.toml" >"$ctx/.cargo/config.toml"
    rm -f "$ctx/vendor-config.toml"
    build_args+=(--build-arg FERROKEEPER_BUILD=source --build-arg "BUILDER_IMAGE=$builder_image")
else
    bin="${FERROKEEPER_BIN:-$repo/target/release/ferrokeeper}"
    if [ ! -x "$bin" ]; then
        log "no binary at $bin: run 'cargo build --release -p ferrokeeper' or set FERROKEEPER_BIN"
        exit 1
    fi
    mkdir -p "$ctx/target/release"
    cp "$bin" "$ctx/target/release/ferrokeeper"
    build_args+=(--build-arg FERROKEEPER_BUILD=prebuilt)
fi

for target in "${targets[@]}"; do
    name="$tag"
    if [ -z "$name" ]; then
        case "$target" in
            official) name=ferrokeeper:latest ;;
            bitnami) name=ferrokeeper:bitnami ;;
        esac
    fi
    log "docker build --target $target -t $name (DOCKER_BUILDKIT=$DOCKER_BUILDKIT)"
    docker build --force-rm "${quiet[@]}" -f "$ctx/docker/Dockerfile" --target "$target" -t "$name" \
        "${build_args[@]}" "${extra[@]}" "$ctx"
done
# Untagged leftovers of earlier builds: build stages and images replaced under the same tag
# (only those older than 15 minutes, so that a build running in parallel keeps its stages).
docker image prune -f --filter label=org.ferrokeeper.build=true --filter until=15m >/dev/null || true
