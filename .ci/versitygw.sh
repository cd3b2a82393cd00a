#!/usr/bin/env bash
# The real S3 peer of the s3dest tests: the Versity S3 gateway, posix
# backend, on loopback.
#
#   bash .ci/versitygw.sh install   # go install it (pinned) if missing
#   eval "$(bash .ci/versitygw.sh start)"
#                                   # install, start one in a temp dir, and
#                                   # print the variables the tests read
#
# The tests start a gateway of their own when EXPORTKIT_S3_ENDPOINT is not
# set and versitygw is on PATH or in $(go env GOPATH)/bin; under CI=true
# they fail rather than skip without one. The credentials are fixed test
# values for a gateway on 127.0.0.1, not secrets.
set -euo pipefail

VERSITYGW_VERSION=v1.8.0
ACCESS=exportkit-test-access
SECRET=exportkit-test-secret-not-a-secret

BIN="$(go env GOPATH)/bin"
export PATH="$BIN:$PATH"

install() {
  # A go-installed versitygw reports no version; the marker file beside it
  # records the one installed.
  if command -v versitygw >/dev/null && [ "$(cat "$BIN/.versitygw-version" 2>/dev/null)" = "$VERSITYGW_VERSION" ]; then
    echo "versitygw $VERSITYGW_VERSION already installed" >&2
    return
  fi
  echo "installing versitygw $VERSITYGW_VERSION" >&2
  go install "github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}" >&2
  echo "$VERSITYGW_VERSION" >"$BIN/.versitygw-version"
}

start() {
  install
  dir="$(mktemp -d "${TMPDIR:-/tmp}/exportkit-versitygw.XXXXXX")"
  mkdir -p "$dir/root"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 17070)"
  versitygw --access "$ACCESS" --secret "$SECRET" --port "127.0.0.1:$port" --quiet posix "$dir/root" \
    >"$dir/versitygw.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$dir/versitygw.log" >&2
      echo "versitygw exited" >&2
      exit 1
    fi
    sleep 0.1
  done
  cat <<VARS
export EXPORTKIT_S3_ENDPOINT=http://127.0.0.1:$port
export EXPORTKIT_S3_ACCESS_KEY_ID=$ACCESS
export EXPORTKIT_S3_SECRET_ACCESS_KEY=$SECRET
export EXPORTKIT_VERSITYGW_PID=$pid
export EXPORTKIT_VERSITYGW_DIR=$dir
VARS
}

case "${1:-}" in
install) install ;;
start) start ;;
*) echo "usage: $0 install|start" >&2; exit 2 ;;
esac
