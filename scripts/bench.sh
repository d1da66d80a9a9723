#!/usr/bin/env bash
# bench.sh: agentd against its peers, each pair measured side by side in the
# same run, interleaved round by round (scripts/interleave.py: this VM's speed
# drifts, and hyperfine's one-command-after-the-other put the drift in the
# ratio). Prints a markdown table (median ms and the ratio agentd/peer);
# docs/BENCHMARKS.md records the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
agentd=$PWD/bin/agentd
runs=${BENCH_RUNS:-30}
work=$(mktemp -d /tmp/agentd-bench.XXXXXX)
cleanup() {
	# bench.d scripts that start something register its stop here.
	for f in "${stops[@]}"; do "$f" || true; done
	for r in "$work/agentd-root" "$work/runc-root"; do
		[ -d "$r" ] || continue
		for id in $(ls "$r" 2>/dev/null); do
			"$agentd" --root "$r" delete --force "$id" >/dev/null 2>&1 || runc --root "$r" delete --force "$id" >/dev/null 2>&1 || true
		done
	done
	rm -rf "$work"
}
stops=()
trap cleanup EXIT

# A busybox bundle running /bin/true.
bundle=$work/bundle
scripts/busybox-rootfs.sh "$bundle/rootfs"
"$agentd" spec --bundle "$bundle"
sed -i 's/"terminal": true/"terminal": false/; s/^\(\s*\)"sh"$/\1"\/bin\/true"/' "$bundle/config.json"
grep -q '"/bin/true"' "$bundle/config.json" || { echo "bench: could not set args in config.json" >&2; exit 1; }

median_ms() { # file.json index
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]; print("%.2f" % (r["median"]*1000))' "$1" "$2"
}
# gobench_median_ms LOG NAME: the median ns/op of benchmark NAME in a
# `go test -bench -count N` log, in ms.
gobench_median_ms() { # log benchmark-name
	awk -v n="$2" '$1 ~ "^"n"-" {print $3/1e6}' "$1" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'
}
row() { # name json
	local a p
	a=$(median_ms "$2" 0); p=$(median_ms "$2" 1)
	printf '| %s | %s | %s | %s |\n' "$1" "$a" "$p" "$(python3 -c "print('%.2f' % ($a/$p))")"
}

compare() { # name agentd-cmd peer-cmd
	local out=$work/$(echo "$1" | tr -c 'a-z0-9' _).json
	scripts/interleave.py --warmup 3 --runs "$runs" --export-json "$out" \
		-n agentd "$2" -n peer "$3"
	row "$1" "$out"
}

echo "| benchmark | agentd median (ms) | peer median (ms) | agentd / peer |"
echo "|---|---|---|---|"
ar=$work/agentd-root rr=$work/runc-root
compare "OCI create+start+delete /bin/true (peer: runc)" \
	"bash -c '$agentd --root $ar create -b $bundle b1 && $agentd --root $ar start b1 && $agentd --root $ar delete --force b1'" \
	"bash -c 'runc --root $rr create -b $bundle b1 && runc --root $rr start b1 && runc --root $rr delete --force b1'"
compare "OCI run /bin/true (peer: runc run)" \
	"$agentd --root $ar run -b $bundle b2" \
	"runc --root $rr run -b $bundle b2"
for extra in scripts/bench.d/*.sh; do
	[ -e "$extra" ] || continue
	# shellcheck source=/dev/null
	. "$extra"
done
echo
echo "runs per command: $runs; $(nproc) cores; $(uname -r); agentd $("$agentd" --version | awk '{print $3}'); $(runc --version | head -1)"
