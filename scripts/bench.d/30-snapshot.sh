# Sourced by bench.sh. Snapshot and restore of a sandbox whose upper layer
# holds 1,000 files / 100 MiB, against `cp -a` of the same tree; Go
# benchmarks in bundle/, medians of five alternating runs of all three (with
# -count 5 each would run five times in a row, and the disk's writeback of
# one would fall on the next).
log=$work/snapshot-bench.log
go test -c -tags 'seccomp urfave_cli_no_docs runc_nocriu' -o "$work/bundle.test" ./bundle/
for _ in 1 2 3 4 5; do
	(cd bundle && "$work/bundle.test" -test.run '^$' -test.bench '^Benchmark(Snapshot|Restore|CpA)$' \
		-test.benchtime 3x) >>"$log"
done
cpa=$(gobench_median_ms "$log" BenchmarkCpA)
for op in Snapshot Restore; do
	a=$(gobench_median_ms "$log" "Benchmark$op")
	printf '| %s of 1,000 files / 100 MiB (peer: cp -a of the tree) | %s | %s | %s |\n' \
		"$(echo "$op" | tr A-Z a-z)" "$a" "$cpa" "$(python3 -c "print('%.2f' % ($a/$cpa))")"
done
