# Sourced by bench.sh. Snapshot and restore of a sandbox whose upper layer
# holds 1,000 files / 100 MiB, against `cp -a` of the same tree; Go
# benchmarks in bundle/, one `go test` run, medians of the counts.
log=$work/snapshot-bench.log
go test -tags 'seccomp urfave_cli_no_docs' -run '^$' -bench '^Benchmark(Snapshot|Restore|CpA)$' \
	-benchtime 3x -count 5 ./bundle/ >"$log"
cpa=$(gobench_median_ms "$log" BenchmarkCpA)
for op in Snapshot Restore; do
	a=$(gobench_median_ms "$log" "Benchmark$op")
	printf '| %s of 1,000 files / 100 MiB (peer: cp -a of the tree) | %s | %s | %s |\n' \
		"$(echo "$op" | tr A-Z a-z)" "$a" "$cpa" "$(python3 -c "print('%.2f' % ($a/$cpa))")"
done
