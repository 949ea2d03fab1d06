#!/usr/bin/env bash
# Makes the base image debian:bookworm-slim locally when the Docker engine does not have it,
# for machines that cannot pull from a registry. Where a registry is reachable, `docker pull
# debian:bookworm-slim` gives the same thing and this script is not needed.
#
#   docker/make-base.sh [--force] [IMAGE]      (IMAGE defaults to debian:bookworm-slim)
#
# How: debootstrap --variant=minbase bookworm into a temporary directory, trim it the way the
# official slim image is trimmed (no docs, man pages or locales; apt caches cleaned), then
# `docker import` it with CMD ["bash"] and tag it. Needs root (debootstrap chroots); installs
# debootstrap with apt-get when missing.
#
# Environment:
#   DEBIAN_MIRROR   mirror URL (default: the first Debian mirror in apt's sources on this
#                   machine, else http://deb.debian.org/debian)
#   DEBIAN_SECURITY security mirror for the image's own apt sources
#                   (default: http://deb.debian.org/debian-security)
#   SUITE           Debian suite (default: bookworm)
set -euo pipefail

force=0
image=""
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        -*) echo "make-base.sh: unknown option $arg" >&2; exit 2 ;;
        *) image="$arg" ;;
    esac
done
image="${image:-debian:bookworm-slim}"
suite="${SUITE:-bookworm}"

log() { printf 'make-base: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if [ "$force" -eq 0 ] && docker image inspect "$image" >/dev/null 2>&1; then
    log "$image already present"
    exit 0
fi

# The Debian mirror apt uses on this machine (deb822 "URIs:" or one-line "deb URL suite").
find_mirror() {
    local files=() f line url
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && files+=("$f")
    done
    [ "${#files[@]}" -gt 0 ] || return 0
    # One-line format: deb [opts] URL bookworm main
    line="$(grep -hE '^[[:space:]]*deb[[:space:]]' "${files[@]}" 2>/dev/null \
        | grep -E "[[:space:]]${suite}[[:space:]]" | grep -v -- '-security' | head -n1 || true)"
    if [ -n "$line" ]; then
        url="$(printf '%s\n' "$line" | sed -E 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' | awk '{print $1}')"
        printf '%s\n' "$url"
        return 0
    fi
    # deb822: the URIs of a stanza whose Suites has the suite itself.
    for f in "${files[@]}"; do
        case "$f" in *.sources) ;; *) continue ;; esac
        awk -v suite="$suite" '
            BEGIN { RS=""; FS="\n" }
            {
                uris=""; ok=0
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^URIs:/) { uris=$i; sub(/^URIs:[ \t]*/, "", uris) }
                    if ($i ~ /^Suites:/) {
                        n = split($i, s, /[ \t]+/)
                        for (j = 2; j <= n; j++) if (s[j] == suite) ok=1
                    }
                }
                if (ok && uris != "") { split(uris, u, /[ \t]+/); print u[1]; exit }
            }' "$f"
    done | head -n1
}

mirror="${DEBIAN_MIRROR:-$(find_mirror)}"
mirror="${mirror:-http://deb.debian.org/debian}"
security="${DEBIAN_SECURITY:-http://deb.debian.org/debian-security}"
log "building $image from $mirror ($suite, minbase)"

if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap \
        || { as_root apt-get update && as_root env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y --no-install-recommends debootstrap; }
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/make-base.XXXXXX")"
cleanup() { as_root rm -rf "$work"; }
trap cleanup EXIT
root="$work/rootfs"

keyring=()
if [ -f /usr/share/keyrings/debian-archive-keyring.gpg ]; then
    keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
fi
as_root debootstrap --variant=minbase "${keyring[@]}" "$suite" "$root" "$mirror" >&2

# The image's own apt sources: the same mirror, plus updates and security.
as_root rm -f "$root/etc/apt/sources.list"
as_root mkdir -p "$root/etc/apt/sources.list.d"
as_root tee "$root/etc/apt/sources.list.d/debian.sources" >/dev/null <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

# What the official slim variant does: keep dpkg from installing docs, man pages and locales,
# keep apt from caching .debs, and do not install recommends.
as_root mkdir -p "$root/etc/dpkg/dpkg.cfg.d" "$root/etc/apt/apt.conf.d"
as_root tee "$root/etc/dpkg/dpkg.cfg.d/docker" >/dev/null <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
as_root tee "$root/etc/apt/apt.conf.d/docker-clean" >/dev/null <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
as_root tee "$root/etc/apt/apt.conf.d/docker-no-recommends" >/dev/null <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF

# Trim what minbase already installed under the excluded paths, and the caches.
as_root find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
as_root find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
as_root rm -rf "$root/usr/share/man/"* "$root/usr/share/info/"* "$root/usr/share/groff/"* \
    "$root/usr/share/lintian/"* "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin \
    "$root/var/cache/apt/archives/"*.deb "$root/var/log/"*.log "$root/var/cache/debconf/"*-old \
    "$root/tmp/"* "$root/root/.bash_history"
as_root find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias \
    -exec rm -rf {} + 2>/dev/null || true
# A container gets its hostname, resolv.conf and hosts from the engine.
as_root rm -f "$root/etc/hostname" "$root/etc/resolv.conf"
as_root truncate -s 0 "$root/etc/machine-id" 2>/dev/null || true

as_root tar --numeric-owner --xattrs -C "$root" -c . \
    | docker import \
        --change 'CMD ["bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change "LABEL org.opencontainers.image.description=\"Debian $suite minbase made by ferrokeeper docker/make-base.sh\"" \
        --message "debootstrap --variant=minbase $suite $mirror" \
        - "$image" >/dev/null
log "tagged $image ($(docker image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
