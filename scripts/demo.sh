#!/usr/bin/env bash
# demo.sh: agentd's main job on a fresh machine, step by step: a sandbox on
# the default base (the host's /usr read-only, a generated /etc, one
# writable overlay layer), exec, snapshot, restore, fork, destroy.
set -euo pipefail
cd "$(dirname "$0")/.."
agentd=$PWD/bin/agentd
work=$(mktemp -d /tmp/agentd-demo.XXXXXX)
chmod 711 "$work"
sb() { "$agentd" sandbox --socket "$work/agentd.sock" --state-dir "$work/state" --no-autostart "$@"; }
step() { printf '\n\033[1m$ agentd sandbox %s\033[0m\n' "$*"; sb "$@"; }

# The daemon, detached from this terminal; stopped (with every sandbox
# removed) whatever happens.
"$agentd" daemon --socket "$work/agentd.sock" --state-dir "$work/state" </dev/null >"$work/daemon.log" 2>&1 &
daemon=$!
cleanup() {
	ids=$(sb ls -q 2>/dev/null || true)
	[ -z "$ids" ] || sb rm -f $ids >/dev/null 2>&1 || true
	kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 200); do [ -S "$work/agentd.sock" ] && break; sleep 0.05; done
[ -S "$work/agentd.sock" ] || { echo "the daemon did not come up:" >&2; cat "$work/daemon.log" >&2; exit 1; }

step probe
id=$(sb create --name demo --memory 256m --pids 128)
printf '\n\033[1m$ agentd sandbox create --name demo --memory 256m --pids 128\033[0m\n%s\n' "$id"
step exec demo -- sh -c 'echo "hello from $(hostname) as $(id -un)"; echo v1 > /tmp/notes; rm /usr/bin/env; ls /'
step snapshot demo before
step exec demo -- sh -c 'echo v2 > /tmp/notes; echo oops > /tmp/mistake; ls /tmp'
step restore demo before
step exec demo -- sh -c 'cat /tmp/notes; ls /tmp; ls /usr/bin/env || true'
step fork --name branch demo:before
step exec branch -- sh -c 'echo branch > /tmp/notes; cat /tmp/notes'
step exec demo -- cat /tmp/notes
step snapshots demo
step stats demo
step ls
step rm -f demo branch
step ls
echo
echo "one-shot (create, exec, destroy), container and native backends:"
step run -- sh -c 'echo container: $(uname -n)'
if ! step run --backend native -- sh -c 'echo native: uid $(id -u)'; then
	echo "(the native backend is refused on this host; \`agentd sandbox probe\` says why)"
fi
