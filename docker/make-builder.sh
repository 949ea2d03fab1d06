#!/usr/bin/env bash
# Makes a Rust builder image for `docker/build.sh --from-source` out of this machine's Rust
# toolchain, for machines that cannot pull `rust:1-bookworm` from a registry.
#
#   docker/make-builder.sh [IMAGE]      (default: ferrokeeper-builder:<rustc version>)
#
# The image is the runtime base (debian:bookworm-slim, made by make-base.sh when missing) plus
# gcc and libc6-dev from the Debian mirror, plus rustc, cargo and the standard library of the
# active toolchain (`rustc --print sysroot`: bin/rustc, bin/cargo and lib/, without docs and
# sources). The binaries rustup installs are static enough to run on bookworm. Prints the
# image name on stdout. Then:
#
#   docker/build.sh --from-source --builder-image "$(docker/make-builder.sh)"
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
base="${BASE_IMAGE:-debian:bookworm-slim}"

log() { printf 'make-builder: %s\n' "$*" >&2; }

command -v rustc >/dev/null 2>&1 || { log "no rustc on PATH"; exit 1; }
sysroot="$(rustc --print sysroot)"
version="$(rustc --version | awk '{print $2}')"
image="${1:-ferrokeeper-builder:$version}"
for f in "$sysroot/bin/rustc" "$sysroot/bin/cargo" "$sysroot/lib"; do
    [ -e "$f" ] || { log "$f is missing (a rustup toolchain has bin/rustc, bin/cargo and lib/)"; exit 1; }
done

if docker image inspect "$image" >/dev/null 2>&1; then
    log "$image already present"
    printf '%s\n' "$image"
    exit 0
fi
if ! docker image inspect "$base" >/dev/null 2>&1; then
    "$here/make-base.sh" "$base"
fi

ctx="$(mktemp -d "${TMPDIR:-/tmp}/ferrokeeper-builder.XXXXXX")"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rust/bin"
cp -L "$sysroot/bin/rustc" "$sysroot/bin/cargo" "$ctx/rust/bin/"
tar -C "$sysroot" --exclude='lib/rustlib/src' --exclude='lib/rustlib/rustc-src' \
    --exclude='lib/rustlib/*/analysis' -cf - lib | tar -C "$ctx/rust" -xf -
log "toolchain $version from $sysroot: $(du -sh "$ctx/rust" | cut -f1)"

cat >"$ctx/Dockerfile" <<EOF
FROM $base
RUN set -eux; apt-get update; \\
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates; \\
    rm -rf /var/lib/apt/lists/*
COPY rust /usr/local/rust
ENV PATH=/usr/local/rust/bin:/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    CARGO_HOME=/usr/local/cargo
RUN rustc --version && cargo --version
EOF

if [ -z "${DOCKER_BUILDKIT:-}" ]; then
    if docker buildx version >/dev/null 2>&1; then export DOCKER_BUILDKIT=1; else export DOCKER_BUILDKIT=0; fi
fi
docker build --force-rm -q -t "$image" "$ctx" >/dev/null
log "tagged $image"
printf '%s\n' "$image"
