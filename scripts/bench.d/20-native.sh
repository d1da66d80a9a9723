# Sourced by bench.sh, after 15-daemon.sh (whose daemon is up). The native
# backend's one-shot path against bubblewrap (Debian's bwrap, read-only host
# root, every namespace unshared) and bare /bin/true, interleaved in one run:
# once forwarded to the running daemon (the CLI starts no Go, see
# cmd/agentd/forward.go) and once with no daemon on the socket (the CLI does
# the run itself).
out=$work/native.json
scripts/interleave.py --warmup 3 --runs "$runs" --export-json "$out" \
	-n daemon "$agentd sandbox --socket $sbdir/agentd.sock run --backend native -- /bin/true" \
	-n nodaemon "$agentd sandbox --socket $work/no-daemon.sock run --backend native -- /bin/true" \
	-n bwrap "bwrap --ro-bind / / --unshare-all /bin/true" \
	-n bare "/bin/true"
a=$(median_ms "$out" 0); nd=$(median_ms "$out" 1); p=$(median_ms "$out" 2); bare=$(median_ms "$out" 3)
printf '| native sandbox run /bin/true, daemon up (peer: bwrap --ro-bind / / --unshare-all; bare /bin/true %s ms) | %s | %s | %s |\n' \
	"$bare" "$a" "$p" "$(python3 -c "print('%.2f' % ($a/$p))")"
printf '| native sandbox run /bin/true, no daemon (peer: the same bwrap) | %s | %s | %s |\n' \
	"$nd" "$p" "$(python3 -c "print('%.2f' % ($nd/$p))")"
