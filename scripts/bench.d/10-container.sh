# Sourced by bench.sh. The container backend's one-shot path (materialize a
# default-base sandbox, agentd run /bin/true, remove) against Debian's
# `runc run` of the same kind of bundle; both are Go benchmarks in
# integration/, interleaved in one `go test` run, medians of the counts.
log=$work/container-bench.log
AGENTD_BIN=$agentd go test -tags 'seccomp urfave_cli_no_docs integration' -run '^$' \
	-bench '^Benchmark(SandboxBundle|RuncSameBundle)$' -benchtime "${runs}x" -count 5 ./integration/ >"$log"
a=$(gobench_median_ms "$log" BenchmarkSandboxBundle)
p=$(gobench_median_ms "$log" BenchmarkRuncSameBundle)
printf '| container sandbox: materialize + run /bin/true + remove (peer: runc run of the bundle) | %s | %s | %s |\n' \
	"$a" "$p" "$(python3 -c "print('%.2f' % ($a/$p))")"
