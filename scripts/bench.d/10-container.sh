# Sourced by bench.sh. The container backend's one-shot path (materialize a
# default-base sandbox, agentd run /bin/true, remove) against Debian's
# `runc run` of the same kind of bundle; both are Go benchmarks in
# integration/, medians of five alternating runs.
# The test binary runs five times, each time both benchmarks one after the
# other, so that the two sides alternate (go test -count 5 would run one
# benchmark five times, then the other).
log=$work/container-bench.log
go test -c -tags 'seccomp urfave_cli_no_docs runc_nocriu integration' -o "$work/integration.test" ./integration/
for _ in 1 2 3 4 5; do
	(cd integration && AGENTD_BIN=$agentd "$work/integration.test" -test.run '^$' \
		-test.bench '^Benchmark(SandboxBundle|RuncSameBundle)$' -test.benchtime "${runs}x") >>"$log"
done
a=$(gobench_median_ms "$log" BenchmarkSandboxBundle)
p=$(gobench_median_ms "$log" BenchmarkRuncSameBundle)
printf '| container sandbox: materialize + run /bin/true + remove (peer: runc run of the bundle) | %s | %s | %s |\n' \
	"$a" "$p" "$(python3 -c "print('%.2f' % ($a/$p))")"
