#!/usr/bin/env bash
# demo.sh: agentd's main job on a fresh machine, step by step.
set -euo pipefail
cd "$(dirname "$0")/.."
agentd=$PWD/bin/agentd
work=$(mktemp -d /tmp/agentd-demo.XXXXXX)
root=$work/oci-root
trap '"$agentd" --root "$root" delete --force demo >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "== agentd as an OCI runtime (what containerd and podman call) =="
scripts/busybox-rootfs.sh "$work/bundle/rootfs"
step "$agentd" spec --bundle "$work/bundle"
sed -i 's/"terminal": true/"terminal": false/; s/^\(\s*\)"sh"$/\1"sh", "-c", "trap \\"exit 0\\" TERM; sleep 1000 \& wait"/' "$work/bundle/config.json"
step "$agentd" --root "$root" create --bundle "$work/bundle" demo
step "$agentd" --root "$root" state demo
step "$agentd" --root "$root" start demo
step "$agentd" --root "$root" exec demo sh -c 'echo "hello from $(hostname), pid $$"; ls /'
step "$agentd" --root "$root" ps demo
step "$agentd" --root "$root" kill demo TERM
for _ in $(seq 100); do
	"$agentd" --root "$root" state demo | grep -q '"stopped"' && break
	sleep 0.05
done
step "$agentd" --root "$root" delete demo
step "$agentd" --root "$root" list
