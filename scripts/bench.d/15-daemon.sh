# Sourced by bench.sh. The supervisor: exec into a warm container sandbox
# through the CLI against `runc exec` into a running runc container; the
# container one-shot `sandbox run`, daemon up and not, against `runc run`;
# and the daemon's memory per idle sandbox.
sbdir=$work/sb
mkdir -p "$sbdir" && chmod 711 "$work" "$sbdir"
sb() { "$agentd" sandbox --socket "$sbdir/agentd.sock" --state-dir "$sbdir/state" --no-autostart "$@"; }
"$agentd" daemon --socket "$sbdir/agentd.sock" --state-dir "$sbdir/state" </dev/null >"$sbdir/daemon.log" 2>&1 &
daemon_pid=$!
stop_daemon() {
	ids=$(sb ls -q 2>/dev/null || true)
	[ -z "$ids" ] || sb rm -f $ids >/dev/null 2>&1 || true
	kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
}
stops+=(stop_daemon)
for _ in $(seq 200); do [ -S "$sbdir/agentd.sock" ] && break; sleep 0.05; done
[ -S "$sbdir/agentd.sock" ] || { echo "the daemon did not come up:" >&2; cat "$sbdir/daemon.log" >&2; exit 1; }

# A runc container that stays up, from the busybox bundle.
sleeper=$work/sleeper
mkdir -p "$sleeper"
sed -e 's|"/bin/true"|"sh", "-c", "trap \\"exit 0\\" TERM; sleep 100000 \& wait"|' \
	-e "s|\"path\": \"rootfs\"|\"path\": \"$bundle/rootfs\"|" "$bundle/config.json" >"$sleeper/config.json"
runc --root "$rr" run -d -b "$sleeper" warm </dev/null >/dev/null 2>&1
warm=$(sb create)
compare "sandbox exec /bin/true, warm container sandbox (peer: runc exec)" \
	"$agentd sandbox --socket $sbdir/agentd.sock --no-autostart exec $warm -- /bin/true" \
	"runc --root $rr exec warm /bin/true"
# The same exec against runc doing the same work: a runc container made from
# the sandbox's own config.json (its seccomp filter, which libcontainer and
# runc compile for every process they start, mounts and rootfs).
samecfg=$work/samecfg
mkdir -p "$samecfg"
python3 - "$sbdir/state/sandboxes/$warm" "$samecfg/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1] + "/config.json"))
c["root"]["path"] = sys.argv[1] + "/rootfs"
c["process"]["args"] = ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
c["linux"]["cgroupsPath"] = "/agentd-bench-samecfg"
json.dump(c, open(sys.argv[2], "w"))
PY
runc --root "$rr" run -d -b "$samecfg" samecfg </dev/null >/dev/null 2>&1
compare "sandbox exec /bin/true, warm container sandbox (peer: runc exec, same config.json)" \
	"$agentd sandbox --socket $sbdir/agentd.sock --no-autostart exec $warm -- /bin/true" \
	"runc --root $rr exec samecfg /bin/true"
runc --root "$rr" delete -f samecfg >/dev/null 2>&1 || true
# The container one-shot the way a user runs it: `sandbox run`, materialize,
# run, remove. Daemon up, the CLI hands the run to the daemon before Go
# starts (cmd/agentd/forward.go); with no daemon on the socket the CLI does
# it all itself. The peer is runc running the same kind of bundle, ready
# made: the warm sandbox's own config.json with /bin/true.
samerun=$work/samerun
mkdir -p "$samerun"
python3 - "$samecfg/config.json" "$samerun/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["args"] = ["/bin/true"]
c["linux"]["cgroupsPath"] = "/agentd-bench-samerun"
json.dump(c, open(sys.argv[2], "w"))
PY
out=$work/oneshot.json
scripts/interleave.py --warmup 3 --runs "$runs" --export-json "$out" \
	-n daemon "$agentd sandbox --socket $sbdir/agentd.sock --state-dir $sbdir/state run -- /bin/true" \
	-n nodaemon "$agentd sandbox --socket $work/no-daemon.sock --state-dir $sbdir/state run -- /bin/true" \
	-n runc "runc --root $rr run -b $samerun samerun"
a=$(median_ms "$out" 0); nd=$(median_ms "$out" 1); p=$(median_ms "$out" 2)
printf '| container sandbox run -- /bin/true, daemon up: materialize + run + remove (peer: runc run of the same kind of bundle) | %s | %s | %s |\n' \
	"$a" "$p" "$(python3 -c "print('%.2f' % ($a/$p))")"
printf '| container sandbox run -- /bin/true, no daemon (peer: the same runc run) | %s | %s | %s |\n' \
	"$nd" "$p" "$(python3 -c "print('%.2f' % ($nd/$p))")"
runc --root "$rr" delete -f warm >/dev/null 2>&1 || true

# Memory: the daemon's RSS with one sandbox, then with 200 more (idle).
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$daemon_pid/status"; }
before=$(rss_kib)
for _ in $(seq 200); do sb create >/dev/null; done
sleep 1
after=$(rss_kib)
count=$(sb ls -q | wc -l)
printf '| daemon RSS: %s KiB with 1 sandbox, %s KiB with %s | %s KiB per idle sandbox | target 100 KiB | %s |\n' \
	"$before" "$after" "$count" "$(python3 -c "print('%.1f' % (($after-$before)/200))")" "$(python3 -c "print('%.2f' % ((($after-$before)/200)/100))")"
# The 200 sandboxes go before the next benchmarks: their 400 overlay mounts
# would make every new mount namespace (bwrap's, a container's) slower.
ids=$(sb ls -q)
[ -z "$ids" ] || sb rm -f $ids >/dev/null
