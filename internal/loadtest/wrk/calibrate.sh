#!/usr/bin/env bash
# calibrate.sh: the starter and the servers of issue 5's reference figures
# under wrk, the load tool of those figures, so that the starter can be set
# against the TypeScript starter, which cannot run here, through servers
# measured on both machines: plain go-sdk with per-request verification
# (~2 260 req/s on the issue's machine, 4.91 times the TypeScript
# starter's ~460), the same without verification (~2 660, 5.78 times) and
# the net/http floor (~23 600, 51.3 times). Each is a bridge: the starter /
# server ratio measured here, times that server's multiple of the
# TypeScript starter there. The bridges agree only as far as this machine
# is like the issue's; the spread between them says how far.
#
# Usage: internal/loadtest/wrk/calibrate.sh [ROUNDS] [SECONDS]   (from the repository root; needs wrk)
#
# It builds the servers, starts the starter in -dev mode only for its
# sign-in server (to mint a token), then the starter as its image runs it
# (GOGC=200, rate limits lifted, log discarded), the gosdk server with and
# without verification and the floor (GOGC=100), opens 32 MCP sessions on
# each MCP server, and loads them in turn: 2 threads, 32 connections, a
# tools/call echo per request (call.lua), a 2 s warm-up before each
# measured window. It prints req/s and p99 per window, the starter's ratio
# to each server per round, and at the end each bridge's median ratio and
# the multiple of the TypeScript starter it gives.
set -euo pipefail

rounds=${1:-3}
seconds=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "calibrate.sh: wrk not found (apt-get install wrk)" >&2; exit 1; }
(cd "$root" && go build -o "$work/starter" ./examples/starter && go build -o "$work/gosdk" ./internal/loadtest/servers/gosdk &&
	go build -o "$work/floor" ./internal/loadtest/servers/floor)

dev=39300 starter=39310 gosdk=39311 gosdk_noauth=39312 floor=39313
# The issue's req/s for each server, measured with the TypeScript starter's ~460.
declare -A reference=([gosdk]=2260 [gosdk_noauth]=2660 [floor]=23600)
typescript=460
issuer=http://127.0.0.1:$((dev + 1))
audience=http://localhost:$dev/mcp

# wait_for URL: until URL answers.
wait_for() {
	for _ in $(seq 100); do
		curl -s -o /dev/null "$1" && return 0
		sleep 0.1
	done
	echo "calibrate.sh: $1 did not come up" >&2
	exit 1
}

(cd "$work" && PORT=$dev exec "$work/starter" -dev >"$work/dev.log" 2>&1) &
pids+=($!)
wait_for "$issuer/jwks"
token=$("$work/starter" token -issuer "$issuer" -resource "$audience" -user alice -scopes "starter.echo")

env -i PATH="$PATH" GOGC=200 OAUTH_ISSUER="$issuer" JWKS_URI="$issuer/jwks" PUBLIC_URL="$audience" \
	PII_SALT=calibrate-pii-salt-0123456789abcdef HOST=127.0.0.1 PORT=$starter CRM_DB_PATH="$work/crm.sqlite" \
	RATE_LIMIT_PER_MIN=1000000 RATE_LIMIT_PER_IP_PER_MIN=1000000 "$work/starter" >"$work/starter.log" 2>/dev/null &
pids+=($!)
GOGC=100 "$work/gosdk" -addr 127.0.0.1:$gosdk -issuer "$issuer" -jwks "$issuer/jwks" -audience "$audience" \
	-scope starter.echo >"$work/gosdk.log" 2>&1 &
pids+=($!)
GOGC=100 "$work/gosdk" -addr 127.0.0.1:$gosdk_noauth -noauth >"$work/gosdk_noauth.log" 2>&1 &
pids+=($!)
GOGC=100 "$work/floor" -addr 127.0.0.1:$floor >"$work/floor.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$starter/healthz"
wait_for "http://127.0.0.1:$gosdk/mcp"
wait_for "http://127.0.0.1:$gosdk_noauth/mcp"
wait_for "http://127.0.0.1:$floor/"

# sessions URL FILE: opens 32 sessions on URL, their ids in FILE.
sessions() {
	local init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"wrk","version":"1"}}}'
	for _ in $(seq 32); do
		local sid
		sid=$(curl -s -D - -o /dev/null -X POST "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
			-H 'Accept: application/json, text/event-stream' -d "$init" |
			tr -d '\r' | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}')
		[ -n "$sid" ] || { echo "calibrate.sh: no session from $1" >&2; exit 1; }
		curl -s -o /dev/null -X POST "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
			-H 'Accept: application/json, text/event-stream' -H "Mcp-Session-Id: $sid" -H 'Mcp-Protocol-Version: 2025-06-18' \
			-d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
		echo "$sid"
	done >"$2"
}
sessions "http://127.0.0.1:$starter/mcp" "$work/sids-starter"
sessions "http://127.0.0.1:$gosdk/mcp" "$work/sids-gosdk"
sessions "http://127.0.0.1:$gosdk_noauth/mcp" "$work/sids-gosdk_noauth"
# The floor keeps no sessions: any id will do.
seq 32 >"$work/sids-floor"

export TOKEN=$token
servers=(starter gosdk gosdk_noauth floor)
printf '%-6s %-20s %10s %10s\n' round server req/s p99
for round in $(seq "$rounds"); do
	declare -A rps=()
	for s in "${servers[@]}"; do
		port=${!s}
		SIDS_FILE="$work/sids-$s" wrk -t2 -c32 -d2s -s "$here/call.lua" "http://127.0.0.1:$port/mcp" >/dev/null
		out=$(SIDS_FILE="$work/sids-$s" wrk -t2 -c32 -d"${seconds}s" --latency -s "$here/call.lua" "http://127.0.0.1:$port/mcp")
		if grep -q -e unexpected -e 'Non-2xx' -e 'Socket errors' <<<"$out"; then
			echo "calibrate.sh: $s answered something else than the echo:" >&2
			echo "$out" >&2
			exit 1
		fi
		rps[$s]=$(awk '/^Requests\/sec/{print $2}' <<<"$out")
		printf '%-6s %-20s %10s %10s\n' "$round" "$s" "${rps[$s]}" "$(awk '$1=="99%"{print $2}' <<<"$out")"
	done
	for s in "${servers[@]:1}"; do
		r=$(awk -v a="${rps[starter]}" -v b="${rps[$s]}" 'BEGIN{printf "%.4f", a/b}')
		echo "$r" >>"$work/ratios-$s"
		printf '%-6s %-20s %10s\n' "$round" "starter/$s" "$r"
	done
done

# median FILE: the median of the numbers in FILE, one per line.
median() { sort -g "$1" | awk '{v[NR]=$1} END{print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
echo
printf '%-20s %14s %14s %12s\n' bridge "median ratio" "its multiple" "× TypeScript"
for s in "${servers[@]:1}"; do
	m=$(median "$work/ratios-$s")
	k=$(awk -v r="${reference[$s]}" -v t="$typescript" 'BEGIN{printf "%.2f", r/t}')
	printf '%-20s %14.3f %14s %12.1f\n' "starter/$s" "$m" "$k" "$(awk -v m="$m" -v k="$k" 'BEGIN{print m*k}')"
done
