#!/usr/bin/env bash
# Builds the orders-testkit container image with podman, then checks what
# is in it: its root filesystem, exported, runs under chroot (containers
# cannot run on every CI machine; chroot needs root only):
#   - `verify` on the embedded default: every check passes;
#   - `serve` on loopback, and `verify --endpoint` against it;
#   - `health` against that serve exits 0, against a NOT_SERVING one 1.
# Prints the image's size.
#
# Exit codes: 0 built and checked; 1 a step failed; 77 skipped (no podman,
# or not root), said on stderr; in CI (CI=true) a skip is a failure.
#
#   scripts/image.sh                 # IMAGE=localhost/orders-testkit:<version>
#   IMAGE=registry.example/orders-testkit:1 scripts/image.sh
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"/\1/p' cli/Cargo.toml | head -n1)
IMAGE=${IMAGE:-localhost/orders-testkit:$version}

skip() {
  if [ "${CI:-}" = true ]; then
    echo "image.sh: FAILED: $1" >&2
    exit 1
  fi
  echo "image.sh: SKIPPED, not checked: $1" >&2
  exit 77
}
command -v podman >/dev/null 2>&1 || skip "podman not found (apt-get install podman)"
[ "$(id -u)" = 0 ] || skip "the exported root filesystem runs under chroot, which needs root"

cargo build --quiet --release -p orders-testkit-cli
bin=target/release/orders-testkit

work=$(mktemp -d)
container=""
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "$container" ] && podman rm -f "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The context: the binary (stripped), the shared libraries it links, with
# their paths, and a minimal /etc.
rootfs=$work/context/rootfs
mkdir -p "$rootfs/etc" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
strip --strip-all -o "$rootfs/orders-testkit" "$bin"
ldd "$bin" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' | while read -r lib; do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done
printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin\n' \
  > "$rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$rootfs/etc/group"
printf 'hosts: files dns\n' > "$rootfs/etc/nsswitch.conf"

podman build --quiet --format docker \
  --build-arg VERSION="$version" \
  --build-arg REVISION="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  -f Containerfile -t "$IMAGE" "$work/context" >/dev/null
size=$(podman image inspect "$IMAGE" --format '{{.Size}}')
echo "image.sh: built $IMAGE: $((size / 1000)) kB ($(awk "BEGIN { printf \"%.1f\", $size / 1000000 }") MB)"

# Its root filesystem, as a container would see it.
container=$(podman create "$IMAGE")
podman export "$container" -o "$work/rootfs.tar"
root=$work/root
mkdir -p "$root"
tar -C "$root" -xf "$work/rootfs.tar"
user=$(podman image inspect "$IMAGE" --format '{{.Config.User}}')
entry=$(podman image inspect "$IMAGE" --format '{{index .Config.Entrypoint 0}}')
run() { chroot --userspec="$user" "$root" "$entry" "$@"; }

echo "image.sh: verify on the embedded default"
run verify > "$work/verify.out" 2>&1
tail -n 1 "$work/verify.out"
grep -q ' 0 failed, 0 skipped' "$work/verify.out" || { cat "$work/verify.out"; exit 1; }

# Starts `serve` in the root filesystem on a free loopback port; sets $addr.
serve() {
  local out=$work/serve-$#-$RANDOM.out
  run serve --addr 127.0.0.1:0 "$@" > "$out" 2>&1 &
  pids+=($!)
  addr=""
  for _ in $(seq 1 100); do
    addr=$(sed -n 's/.* on \(127\.0\.0\.1:[0-9]*\)$/\1/p' "$out" | head -n1)
    [ -n "$addr" ] && return 0
    sleep 0.1
  done
  cat "$out"
  echo "image.sh: serve did not start within 10 s" >&2
  exit 1
}

serve
echo "image.sh: verify --endpoint http://$addr (the image's own serve)"
run verify --endpoint "http://$addr" > "$work/endpoint.out" 2>&1
tail -n 1 "$work/endpoint.out"
grep -q ' 0 failed' "$work/endpoint.out" || { cat "$work/endpoint.out"; exit 1; }
run health --endpoint "http://$addr"

printf 'serving = false\n' > "$root/tmp/not-serving.toml"
serve --scenario /tmp/not-serving.toml
set +e
run health --endpoint "http://$addr"
code=$?
set -e
[ "$code" = 1 ] || { echo "image.sh: health against NOT_SERVING exited $code, not 1" >&2; exit 1; }

echo "image.sh: ok: $IMAGE ($((size / 1000)) kB) passes verify, serves, and answers health 0/1"
