#!/usr/bin/env bash
# Measures cmd/ingress at two git revisions against each other end to end
# over HTTP with wrk, in alternating rounds, each run replaying freshly
# signed safe-mode XML pushes — the way to check that a change costs the
# ingress no throughput:
#
#   bench/ab.sh 2c477bb HEAD              # 5 rounds, 64 connections, 10 s each
#   ROUNDS=7 DURATION=10s bench/ab.sh main my-branch
#
# Both run with an embedded JetStream at the same fsync interval (SYNC,
# default 2m, nats-server's own default; SYNC=always measures the shipped
# default of revisions that have nats.embedded.sync). Needs wrk (Debian
# package wrk). Prints one line per run and the median throughput ratio
# B/A. Everything runs on loopback; nothing is left behind.
set -euo pipefail

A=${1:?usage: bench/ab.sh REV_A REV_B}
B=${2:?usage: bench/ab.sh REV_A REV_B}
ROUNDS=${ROUNDS:-5}
CONNS=${CONNS:-64}
DURATION=${DURATION:-10s}
PUSHES=${PUSHES:-400000}
SYNC=${SYNC:-2m}
PORT=${PORT:-18090}

cd "$(dirname "$0")/.."
. bench/lib.sh
command -v wrk >/dev/null || { echo "ab.sh: wrk not found (apt-get install wrk)" >&2; exit 1; }
work=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	wait 2>/dev/null || true
	for rev in a b; do git worktree remove --force "$work/src-$rev" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

build() { # build REV NAME
	git worktree add -q --detach "$work/src-$2" "$1"
	(cd "$work/src-$2" && go build -o "$work/ingress-$2" ./cmd/ingress)
}
build "$A" a
build "$B" b
go build -o "$work/wxsim" ./cmd/wxsim

# run NAME: start that ingress on a fresh store, one wrk run, stop it;
# prints "rps p50 p99".
run() {
	rm -rf "$work/store"
	start_ingress "$work/ingress-$1" "$PORT" "$((PORT + 1))" "$work/store" "$work/ingress-$1.log"
	pid=$!
	for _ in $(seq 100); do
		curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break
		sleep 0.1
	done
	"$work/wxsim" load --mode safe --pushes "$PUSHES" --dump "$work/pushes.txt" >/dev/null 2>&1
	out=$(PUSHES="$work/pushes.txt" THREADS=1 wrk -t1 -c"$CONNS" -d"$DURATION" -s bench/wrk/push.lua "http://127.0.0.1:$PORT")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
	bad=$(awk '/^non-2xx/ {print $2}' <<<"$out")
	if [ "$bad" != 0 ]; then
		echo "ab.sh: $1 answered $bad pushes with an error" >&2
		exit 1
	fi
	awk '/^Requests\/sec/ {r=$2} $1 == "p50" {p50=$2} $1 == "p99" {p99=$2} END {print r, p50, p99}' <<<"$out"
}

printf '%-5s %-4s %10s %10s %10s\n' round rev pushes/s p50_ms p99_ms
ratios=()
for r in $(seq "$ROUNDS"); do
	read -r ra pa50 pa99 < <(run a)
	read -r rb pb50 pb99 < <(run b)
	printf '%-5s %-4s %10.0f %10s %10s\n' "$r" A "$ra" "$pa50" "$pa99"
	printf '%-5s %-4s %10.0f %10s %10s\n' "$r" B "$rb" "$pb50" "$pb99"
	ratios+=("$(awk -v b="$rb" -v a="$ra" 'BEGIN {printf "%.3f", b / a}')")
done
echo "ratios B/A: ${ratios[*]}; median $(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
