#!/usr/bin/env bash
# Measures kfbridge's egress against the naive unordered consumer
# (bench/naiveegress) with BenchmarkEgressVsNaive, in ROUNDS separate runs
# (each run measures both, one after the other, on the same setup), then
# the open-loop round trip (bench/roundtrip) ROUNDS times, and prints
# medians and the egress/naive ratios:
#
#   bench/egress.sh                          # 3 rounds, 20000 commands
#   ROUNDS=5 COMMANDS=20000 RATE=200 DURATION=10s bench/egress.sh
#   SKIP_ROUNDTRIP=1 bench/egress.sh
#   SKIP_BENCH=1 SKIP_ROUNDTRIP=1 ISOLATION=1 IDLE=1 bench/egress.sh
#   PAIRED=1 SKIP_ROUNDTRIP=1 bench/egress.sh  # each impl in its own process, after naive
#
# ISOLATION=1 adds BenchmarkEgressIsolation (issue 11's cross-app and
# same-app waits; ISOLATION_CAP, default 30s, bounds each wait) and IDLE=1
# the idle cost (bench/egressidle, IDLE_DURATION default 30s, with the NATS
# server in process and in a child process), each ROUNDS times.
#
# Everything runs in process on loopback; nothing is left behind.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
COMMANDS=${COMMANDS:-20000}
RATE=${RATE:-200}
DURATION=${DURATION:-10s}
SYNC=${SYNC:-always}
# BENCH names the benchmark (default EgressVsNaive).
BENCH=${BENCH:-EgressVsNaive}

cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go test -c -o "$work/egress.test" ./internal/egress/
go build -o "$work/roundtrip" ./bench/roundtrip/cmd/roundtrip
go build -o "$work/egressidle" ./bench/egressidle/cmd/egressidle

# PAIRED=1 (BenchmarkEgressVsNaive only) runs each impl in a process of its
# own right after a naive run in the same process, instead of all impls in
# one process in a fixed order: a "round" of the medians below is then one
# such pair, so no ratio depends on where its impl runs in the process.
PAIRS="latency=0s/impl=egress latency=0s/impl=naive+writes latency=0s/impl=naive+writes-noack latency=0s/impl=egress+observe
latency=0s/impl=egress+observe-nopush latency=0s/impl=egress-4p latency=50ms/impl=egress"

bench() { # bench <round label> <-test.bench pattern>
	echo "== round $1: $2, $COMMANDS commands" | tee -a "$work/bench.txt"
	"$work/egress.test" -test.run '^$' -test.bench "$2" -test.benchtime "${COMMANDS}x" |
		grep -E '^Benchmark|^--- FAIL|^ +[a-z_]+\.go:[0-9]+:' | tee -a "$work/bench.txt"
}

if [ -z "${SKIP_BENCH:-}" ]; then
for r in $(seq "$ROUNDS"); do
	if [ -n "${PAIRED:-}" ]; then
		for pair in $PAIRS; do
			latency=${pair%%/*} impl=${pair#*impl=}
			bench "$r" "^Benchmark$BENCH\$/^$latency\$/^impl=(naive|${impl//+/\\+})\$"
		done
	else
		bench "$r" "$BENCH"
	fi
done
echo
echo "== medians over $ROUNDS rounds (commands/s, cpu-µs/command)"
awk '
	/^== round/ { round++ }
	/^Benchmark/ {
		name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark[A-Za-z]+\//, "", name)
		for (i = 3; i < NF; i++) {
			if ($(i+1) == "commands/s") { cps[name] = cps[name] " " $i; cpsr[name, round] = $i }
			if ($(i+1) == "cpu-µs/command") { cpu[name] = cpu[name] " " $i; cpur[name, round] = $i }
		}
	}
	function median(s,   a, n, i, j, t) {
		n = split(s, a, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	END {
		for (name in cps) printf "%-36s %10.1f commands/s %8.1f cpu-µs/command\n", name, median(cps[name]), median(cpu[name])
		# Ratios are taken within each round (both measured in the same run), then the median.
		for (name in cps) if (name !~ /impl=naive$/) {
			base = name; sub(/impl=.*/, "impl=naive", base)
			if (!(base in cps)) continue
			t = ""; c = ""
			for (r = 1; r <= round; r++) if ((name, r) in cpsr && (base, r) in cpsr) {
				t = t " " cpsr[name, r] / cpsr[base, r]; c = c " " cpur[name, r] / cpur[base, r]
			}
			printf "%-36s vs naive: throughput %.3f, cpu per command %.2f (median of per-round ratios)\n", name, median(t), median(c)
		}
	}' "$work/bench.txt" | sort
fi

if [ -z "${SKIP_ROUNDTRIP:-}" ]; then
	for r in $(seq "$ROUNDS"); do
		echo "== round $r: round trip, $RATE pushes/s for $DURATION, sync $SYNC"
		"$work/roundtrip" -rate "$RATE" -duration "$DURATION" -sync "$SYNC" | tee -a "$work/rt.txt"
	done
	echo
	awk '
		function ms(d) {
			if (sub(/µs$/, "", d)) return d / 1000
			if (sub(/ms$/, "", d)) return d + 0
			if (sub(/ns$/, "", d)) return d / 1e6
			if (sub(/s$/, "", d)) return d * 1000
			return d + 0
		}
		function median(s,   a, n, i, j, t) {
			n = split(s, a, " ")
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		/^round trip/ { for (i = 1; i < NF; i++) if ($i == "p50" || $i == "p99") v[$i] = v[$i] " " ms($(i+1)) }
		/^disk/ { for (i = 1; i < NF; i++) if ($i == "p99") disk = disk " " ms($(i+1)) }
		END {
			printf "round trip medians: p50 %.2f ms, p99 %.2f ms\n", median(v["p50"]), median(v["p99"])
			if (disk != "") printf "disk before each round: write+fsync p99 median %.2f ms\n", median(disk)
		}' "$work/rt.txt"
fi

if [ -n "${ISOLATION:-}" ]; then
	for r in $(seq "$ROUNDS"); do
		echo "== round $r: BenchmarkEgressIsolation, cap ${ISOLATION_CAP:-30s}"
		# -test.v: go test cuts a benchmark's log short without it.
		"$work/egress.test" -test.run '^$' -test.bench EgressIsolation -test.benchtime 1x -test.v \
			-isolation.cap "${ISOLATION_CAP:-30s}" |
			grep -E '^Benchmark|^--- FAIL|isolation_bench_test\.go' | sed -E 's/^ +isolation_bench_test\.go:[0-9]+: /    /'
	done
fi

if [ -n "${IDLE:-}" ]; then
	for r in $(seq "$ROUNDS"); do
		for server in inprocess process; do
			echo "== round $r: idle egress, NATS server $server, ${IDLE_DURATION:-30s}, sync $SYNC"
			"$work/egressidle" -duration "${IDLE_DURATION:-30s}" -server "$server" -sync "$SYNC"
		done
	done
fi
