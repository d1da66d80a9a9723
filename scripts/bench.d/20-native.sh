# Sourced by bench.sh. The native backend's one-shot path against
# bubblewrap (Debian's bwrap, read-only host root, every namespace unshared)
# and against bare /bin/true, interleaved in one run.
out=$work/native.json
scripts/interleave.py --warmup 3 --runs "$runs" --export-json "$out" \
	-n agentd "$agentd sandbox run --backend native -- /bin/true" \
	-n bwrap "bwrap --ro-bind / / --unshare-all /bin/true" \
	-n bare "/bin/true"
a=$(median_ms "$out" 0); p=$(median_ms "$out" 1); bare=$(median_ms "$out" 2)
printf '| native sandbox run /bin/true (peer: bwrap --ro-bind / / --unshare-all; bare /bin/true %s ms) | %s | %s | %s |\n' \
	"$bare" "$a" "$p" "$(python3 -c "print('%.2f' % ($a/$p))")"
