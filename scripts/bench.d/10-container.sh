# Sourced by bench.sh. The container backend's one-shot path (materialize a
# default-base sandbox, agentd run /bin/true, remove) against Debian's
# `runc run` of the same kind of bundle: a Go benchmark in integration/ that
# runs one of each per iteration, in an order that flips, and reports the
# medians (agentd-ms, runc-ms). Three invocations; the medians of those.
log=$work/container-bench.log
go test -c -tags 'seccomp urfave_cli_no_docs runc_nocriu integration' -o "$work/integration.test" ./integration/
for _ in 1 2 3; do
	(cd integration && AGENTD_BIN=$agentd "$work/integration.test" -test.run '^$' \
		-test.bench '^BenchmarkSandboxBundle$' -test.benchtime "${runs}x") >>"$log"
done
metric_median() { # log unit
	awk -v u="$2" '$1 ~ /^BenchmarkSandboxBundle-/ {for (i = 4; i < NF; i++) if ($(i+1) == u) print $i}' "$1" |
		sort -n | awk '{a[NR]=$1} END {printf "%.2f", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'
}
a=$(metric_median "$log" agentd-ms)
p=$(metric_median "$log" runc-ms)
printf '| container sandbox: materialize + run /bin/true + remove (peer: runc run of the bundle) | %s | %s | %s |\n' \
	"$a" "$p" "$(python3 -c "print('%.2f' % ($a/$p))")"
