#!/usr/bin/env bash
# Installs, pinned, the tools of exportkit's download measurements:
#
#   bash .ci/bench-tools.sh nginx   # nginx only: the real-peer test (CI runs this)
#   bash .ci/bench-tools.sh         # nginx, aria2 and Toxiproxy: the capped-link benchmark
#
# nginx and aria2 come from Debian through apt-get; Toxiproxy is built from
# source through the Go module proxy (go install) into
# $EXPORTKIT_BENCH_TOOLS (default ~/.cache/exportkit-bench/bin), where
# go run ./internal/cmd/linkbench finds it. Nothing else is downloaded.
# A tool already installed at the pinned version is left alone.
set -euo pipefail

# Debian 12 (bookworm). The security archive drops superseded builds, so an
# exact version that is gone falls back to the release's current build of
# the same package, with a warning: the benchmark prints the versions it ran.
NGINX_PKG=nginx-light
NGINX_VERSION=1.22.1-9+deb12u11
ARIA2_VERSION=1.36.0-1
TOXIPROXY_VERSION=v2.12.0 # keep in step with internal/bench.ToxiproxyVersion

what="${1:-all}"
case "$what" in
nginx | all) ;;
*) echo "usage: $0 [nginx|all]" >&2; exit 2 ;;
esac

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "need root (or sudo) for: $*" >&2; return 1
  fi
}

updated=
apt_install() { # apt_install PACKAGE VERSION
  local pkg=$1 version=$2
  if [ "$(dpkg-query -W -f='${Status} ${Version}' "$pkg" 2>/dev/null)" = "install ok installed $version" ]; then
    echo "$pkg $version already installed"
    return
  fi
  if ! command -v apt-get >/dev/null; then
    echo "no apt-get: install $pkg $version by hand" >&2
    return 1
  fi
  if [ -z "$updated" ]; then
    as_root apt-get update -qq
    updated=1
  fi
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg=$version"; then
    echo "warning: $pkg=$version is not available; installing the current $pkg" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg"
  fi
  dpkg-query -W -f='${Package} ${Version}\n' "$pkg"
}

# nginx: skip apt when some nginx is there already (the test needs only the
# binary; the benchmark prints which version it ran).
nginx_bin=$(command -v nginx || true)
[ -z "$nginx_bin" ] && [ -x /usr/sbin/nginx ] && nginx_bin=/usr/sbin/nginx
if [ -n "$nginx_bin" ]; then
  echo "nginx present: $("$nginx_bin" -v 2>&1)"
else
  apt_install "$NGINX_PKG" "$NGINX_VERSION"
fi

[ "$what" = nginx ] && exit 0

if command -v aria2c >/dev/null; then
  echo "aria2c present: $(aria2c --version | head -1)"
else
  apt_install aria2 "$ARIA2_VERSION"
fi

if ! command -v curl >/dev/null; then
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends curl
fi

tools="${EXPORTKIT_BENCH_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/exportkit-bench/bin}"
mkdir -p "$tools"
stamp="$tools/toxiproxy-server.version"
if [ -x "$tools/toxiproxy-server" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$TOXIPROXY_VERSION" ]; then
  echo "toxiproxy-server $TOXIPROXY_VERSION already in $tools"
else
  # The command's directory is named "server": build it into a scratch
  # GOBIN and give it its real name.
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  GOBIN="$scratch" go install "github.com/Shopify/toxiproxy/v2/cmd/server@${TOXIPROXY_VERSION}"
  mv "$scratch/server" "$tools/toxiproxy-server"
  echo "$TOXIPROXY_VERSION" >"$stamp"
  echo "toxiproxy-server $TOXIPROXY_VERSION installed in $tools"
fi
