# bench/scenarios.sh — sourced by bench/run: progress, and scenarios 2–6 driven by the
# benchmark clients (rill: target/release/bench-client; tonic: examples/tonic-bench-client,
# same load code in bench/src/load.rs). Every client run appends one line
# "rep label server client key=value..." to a TSV in $WORK; a client that sees a failed call
# (non-OK grpc-status, wrong payload size) exits non-zero and the run fails at the end.
# shellcheck shell=bash disable=SC2154

# ---------------------------------------------------------------- progress (stderr)
SC_NAMES=("" "unary throughput (h2load)" "latency at fixed load" "server streaming"
          "client streaming + ping-pong" "memory" "instructions per RPC")
declare -A SC_EST=()  # estimated seconds per scenario, set by bench/run
SC_CUR=0 SC_STEPS=1 SC_DONE=0
START_ALL=$(date +%s)
mmss() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
begin_scenario() {  # N STEPS
  SC_CUR=$1 SC_STEPS=$2 SC_DONE=0
  say "== scenario $1/6: ${SC_NAMES[$1]} ($2 steps, ~$(mmss "${SC_EST[$1]:-0}"))"
}
# progress DESCRIPTION: prints "[scenario i/6] step k/K DESCRIPTION (elapsed, left)" without
# a newline; the caller finishes the line with the step's result.
progress() {
  SC_DONE=$((SC_DONE + 1))
  local el left i
  el=$(( $(date +%s) - START_ALL ))
  left=$(awk -v e="${SC_EST[$SC_CUR]:-0}" -v n="$SC_STEPS" -v d="$SC_DONE" 'BEGIN{printf "%d", e*(n-d+1)/n}')
  for ((i = SC_CUR + 1; i <= 6; i++)); do left=$((left + ${SC_EST[$i]:-0})); done
  printf 'bench: [%d/6 %s] %d/%d %s (%s elapsed, ~%s left) ' "$SC_CUR" "${SC_NAMES[$SC_CUR]%% (*}" \
    "$SC_DONE" "$SC_STEPS" "$1" "$(mmss "$el")" "$(mmss "$left")" >&2
}

# ---------------------------------------------------------------- client runs
declare -A CLIENT_BIN=([rill]="$REL/bench-client" [tonic]="$REL/examples/tonic-bench-client")
CLIENTS=(rill tonic)
FAILED_CALLS=() KNOWN_SEEN=()
# Failures already understood, as LABEL:CLIENT (space-separated); reported in RESULTS.md but
# they do not fail the run. None at present.
KNOWN_FAILURES=${BENCH_KNOWN_FAILURES-}

# run_client CLIENT SERVER TSV LABEL MODE ARGS...: one client process on core 1; appends its
# line to TSV and sets OUTLINE.
OUTLINE=""
run_client() {
  local c=$1 s=$2 tsv=$3 label=$4 log
  shift 4
  log="$LOGS/client-$label-$c-$s-$REP.log"
  if OUTLINE=$(taskset -c 1 "${CLIENT_BIN[$c]}" "$@" --target "http://127.0.0.1:${PORTS[$s]}" 2>"$log"); then
    OUTLINE=$(tail -1 <<<"$OUTLINE")
    printf '%s\t%s\t%s\t%s\t%s\n' "$REP" "$label" "$s" "$c" "$OUTLINE" >>"$tsv"
    return 0
  fi
  # A failed run's figures are left out of the tables.
  local what="$label: $c client → ${NAMES[$s]}: $(tail -1 "$log")"
  if [[ " $KNOWN_FAILURES " == *" $label:$c "* ]]; then
    KNOWN_SEEN+=("$what")
    printf '(known issue: %s) ' "$(tail -1 "$log" | cut -c1-100)" >&2
  else
    FAILED_CALLS+=("$what")
    say "FAILED: $what"
  fi
  OUTLINE=$(tail -1 <<<"$OUTLINE")
}
field() { tr ' ' '\n' <<<"$OUTLINE" | awk -F= -v k="$1" '$1==k{print $2}'; }

rotate() {  # the servers in the order of repetition $1
  local r=$(( ($1 - 1) % ${#SERVERS[@]} ))
  echo "${SERVERS[@]:$r}" "${SERVERS[@]:0:$r}"
}

# ---------------------------------------------------------------- 2. latency at fixed load
# For each load generator in LAT_CLIENTS: its closed-loop peak (4 connections × 32 calls in
# flight), then an open loop at 10, 50 and 80% of that peak, latency counted from each call's
# scheduled send time.
scenario_latency() {
  LAT_TSV="$WORK/latency.tsv"
  : >"$LAT_TSV"
  begin_scenario 2 $(( REPS * ${#SERVERS[@]} * ${#LAT_CLIENTS[@]} * 5 ))
  local s c peak pct rate same
  declare -A peaks=()
  for REP in $(seq 1 "$REPS"); do
    for s in $(rotate "$REP"); do
      for c in "${LAT_CLIENTS[@]}"; do
        progress "rep $REP $c client → ${NAMES[$s]}: peak"
        run_client "$c" "$s" "$LAT_TSV" peak peak --conns 4 --concurrency 32 \
          --duration "$LAT_DUR" --warmup "$LAT_WARM"
        peak=$(field rps)
        peaks[$c,$s]=${peak:-0}
        printf '%s calls/s, p99 %s µs\n' "${peak:-?}" "$(field p99_us)" >&2
        for pct in 10 50 80; do
          progress "rep $REP $c client → ${NAMES[$s]}: ${pct}% of peak"
          rate=$(awk -v p="${peak:-0}" -v x="$pct" 'BEGIN{r=p*x/100; if (r<1) r=1; printf "%.0f", r}')
          run_client "$c" "$s" "$LAT_TSV" "rate$pct" rate --rate "$rate" --conns 4 \
            --duration "$LAT_DUR" --warmup "$LAT_WARM"
          printf '%s calls/s: p50 %s µs, p99 %s µs, p99.9 %s µs\n' "$(field rps)" "$(field p50_us)" \
            "$(field p99_us)" "$(field p999_us)" >&2
        done
      done
    done
    # The same offered load for every server (per client): a third of the lower of rill's and
    # tonic's peaks, so that p99s compare at equal work, not at each server's own share. (Half
    # of it, as before, asked 65-70k calls/s once tonic's peak passed 130k: more than the
    # one-core open-loop generator sends, which then measured its own backlog.)
    for c in "${LAT_CLIENTS[@]}"; do
      same=$(awk -v a="${peaks[$c,rill]:-0}" -v b="${peaks[$c,tonic]:-0}" \
        'BEGIN{m=(a<b)?a:b; r=m/3; if (r<1) r=1; printf "%.0f", r}')
      for s in $(rotate "$REP"); do
        progress "rep $REP $c client → ${NAMES[$s]}: same load for all ($same calls/s)"
        run_client "$c" "$s" "$LAT_TSV" same rate --rate "$same" --conns 4 \
          --duration "$LAT_DUR" --warmup "$LAT_WARM"
        printf '%s calls/s: p50 %s µs, p99 %s µs, p99.9 %s µs\n' "$(field rps)" "$(field p50_us)" \
          "$(field p99_us)" "$(field p999_us)" >&2
      done
    done
  done
}

# ---------------------------------------------------------------- 3. server streaming
# StreamingFromServer, MESSAGES replies per stream read in full, then the stream is dropped
# and the process exits: one cancel per stream at the very end, on a connection that is then
# closed.
scenario_streaming() {
  STREAM_TSV="$WORK/streaming.tsv"
  : >"$STREAM_TSV"
  begin_scenario 3 $(( REPS * ${#SERVERS[@]} * ${#CLIENTS[@]} * 4 ))
  local s c size bytes total streams
  for REP in $(seq 1 "$REPS"); do
    for size in 1KiB 1MiB; do
      if [ "$size" = 1KiB ]; then bytes=1024 total=$STREAM_1K; else bytes=1048576 total=$STREAM_1M; fi
      for streams in 1 8; do
        for s in $(rotate "$REP"); do
          for c in "${CLIENTS[@]}"; do
            progress "rep $REP ${size} × ${streams} stream(s): $c client → ${NAMES[$s]}"
            run_client "$c" "$s" "$STREAM_TSV" "stream-$size-$streams" server-stream \
              --response-size "$bytes" --payload 10 --streams "$streams" --messages $((total / streams))
            printf '%s MB/s\n' "$(field mb_per_s)" >&2
          done
        done
      done
    done
  done
}

# ---------------------------------------------------------------- 4. client streaming, ping-pong
scenario_client_streaming() {
  CS_TSV="$WORK/client-streaming.tsv"
  : >"$CS_TSV"
  begin_scenario 4 $(( REPS * ${#SERVERS[@]} * ${#CLIENTS[@]} * 2 ))
  local s c
  for REP in $(seq 1 "$REPS"); do
    for s in $(rotate "$REP"); do
      for c in "${CLIENTS[@]}"; do
        progress "rep $REP StreamingFromClient: $c client → ${NAMES[$s]}"
        run_client "$c" "$s" "$CS_TSV" client-stream client-stream --duration "$CS_DUR"
        printf '%s messages/s\n' "$(field msgs_per_s)" >&2
        progress "rep $REP StreamingCall ping-pong: $c client → ${NAMES[$s]}"
        run_client "$c" "$s" "$CS_TSV" ping-pong ping-pong --duration "$CS_DUR" --warmup 0.3
        printf '%s round trips/s, p50 %s µs, p99 %s µs\n' "$(field rounds_per_s)" "$(field p50_us)" \
          "$(field p99_us)" >&2
      done
    done
  done
}

# ---------------------------------------------------------------- 5. memory
rss_kib() { awk '/^VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# Starts a fresh server $1 on the spare port; sets MEM_PID.
mem_server() {
  local s=$1 port=${PORTS[callgrind]}
  env ${TRANSPORT[$s]:+RILL_SERVER_TRANSPORT=${TRANSPORT[$s]}} taskset -c 0 "${BIN[$s]}" --listen "127.0.0.1:$port" --workers 1 >>"$LOGS/memory-$s.log" 2>&1 &
  MEM_PID=$!
  PIDS+=("$MEM_PID")
  wait_port "$port" || {
    FAILED_CALLS+=("memory: ${NAMES[$s]} did not start (see $LOGS/memory-$s.log)")
    say "${NAMES[$s]} did not start for the memory scenario"
    return 1
  }
}
mem_stop() { kill "$MEM_PID" 2>/dev/null || true; wait "$MEM_PID" 2>/dev/null || true; }

# hold CONNS STREAMS_PER_CONN: the rill client holds CONNS connections (each completed one
# call), then STREAMS_PER_CONN StreamingCalls on each; RSS is read after each phase settled.
# Sets HOLD_CONNS, HOLD_STREAMS, RSS_CONNS, RSS_STREAMS (KiB).
mem_hold() {
  local conns=$1 per=$2 line log="$LOGS/memory-hold-$1-$2.log"
  HOLD_CONNS=0 HOLD_STREAMS=0 RSS_CONNS=0 RSS_STREAMS=0
  coproc HOLD { exec taskset -c 1 "$REL/bench-client" hold --conns "$conns" --streams "$per" \
                  --target "http://127.0.0.1:${PORTS[callgrind]}" 2>"$log"; }
  local hold_pid=$HOLD_PID out=${HOLD[0]} in=${HOLD[1]}
  if read -r -t 300 line <&"$out"; then
    HOLD_CONNS=${line#connections=}
    sleep 1
    RSS_CONNS=$(rss_kib "$MEM_PID")
    if [ "$per" -gt 0 ]; then
      echo go >&"$in"
      if read -r -t 300 line <&"$out"; then
        HOLD_STREAMS=${line#streams=}
        sleep 1
        RSS_STREAMS=$(rss_kib "$MEM_PID")
      fi
    fi
  fi
  exec {in}>&-
  local rest
  rest=$(timeout 60 cat <&"$out" || true)
  wait "$hold_pid" 2>/dev/null ||
    { FAILED_CALLS+=("memory: hold $conns × $per: $(tail -1 "$log")"); say "FAILED: hold $conns × $per ($(tail -1 "$log"))"; }
  [ -n "$rest" ] || true
}

scenario_memory() {
  MEM_TSV="$WORK/memory.tsv"
  : >"$MEM_TSV"
  # 10k connections need 10k descriptors in the client and in the server.
  local want=$(( MEM_CONNS_MAX + 1000 )) hard
  hard=$(ulimit -Hn)
  if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then want=$hard; fi
  ulimit -n "$want" 2>/dev/null || say "ulimit -n $want failed (now $(ulimit -n))"
  begin_scenario 5 $(( ${#SERVERS[@]} * (${#MEM_CONNS[@]} + 2) ))
  local s n idle
  REP=mem
  for s in "${SERVERS[@]}"; do
    progress "${NAMES[$s]}: idle"
    mem_server "$s" || continue
    taskset -c 1 "$REL/bench-client" count --count 10 --concurrency 1 \
      --target "http://127.0.0.1:${PORTS[callgrind]}" >/dev/null 2>&1 || true
    sleep 1
    idle=$(rss_kib "$MEM_PID")
    printf '%s\t%s\t%s\t%s\n' "$s" idle "$idle" 0 >>"$MEM_TSV"
    mem_stop
    printf '%.1f MiB\n' "$(awk -v k="$idle" 'BEGIN{print k/1024}')" >&2
    for n in "${MEM_CONNS[@]}"; do
      progress "${NAMES[$s]}: $n idle connections"
      mem_server "$s" || continue
      mem_hold "$n" 0
      printf '%s\t%s\t%s\t%s\n' "$s" "conns$n" "$RSS_CONNS" "$HOLD_CONNS" >>"$MEM_TSV"
      mem_stop
      printf '%s connections, %.1f MiB\n' "$HOLD_CONNS" "$(awk -v k="$RSS_CONNS" 'BEGIN{print k/1024}')" >&2
    done
    progress "${NAMES[$s]}: $((MEM_STREAM_CONNS * MEM_STREAMS_PER_CONN)) open streams"
    mem_server "$s" || continue
    mem_hold "$MEM_STREAM_CONNS" "$MEM_STREAMS_PER_CONN"
    printf '%s\t%s\t%s\t%s\n' "$s" base "$RSS_CONNS" "$HOLD_CONNS" >>"$MEM_TSV"
    printf '%s\t%s\t%s\t%s\n' "$s" streams "$RSS_STREAMS" "$HOLD_STREAMS" >>"$MEM_TSV"
    mem_stop
    printf '%s streams, %.1f MiB\n' "$HOLD_STREAMS" "$(awk -v k="$RSS_STREAMS" 'BEGIN{print k/1024}')" >&2
  done
}

# ---------------------------------------------------------------- 6b. client instructions
# Each client makes N1 and then N2 calls (fresh process each) under callgrind against rill's
# server (native, core 0); (I2 - I1) / (N2 - N1) removes start-up and connection set-up.
scenario_client_instructions() {
  CI_TSV="$WORK/client-instructions.tsv"
  : >"$CI_TSV"
  local port=${PORTS[callgrind]} c shape n i dump
  taskset -c 0 "${BIN[rill]}" --listen "127.0.0.1:$port" --workers 1 >"$LOGS/client-cg-server.log" 2>&1 &
  local spid=$!
  PIDS+=("$spid")
  wait_port "$port" || { say "rill server for client instructions did not start"; return; }
  for c in "${CLIENTS[@]}"; do
    for shape in 1x1 1x64; do
      local res=()
      for n in "$CI_N1" "$CI_N2"; do
        progress "$c client under callgrind: $n calls of $shape"
        dump="$WORK/callgrind/client.$c.$shape.$n"
        taskset -c 1 valgrind --tool=callgrind --callgrind-out-file="$dump" "${CLIENT_BIN[$c]}" count \
          --count "$n" --concurrency "${shape#*x}" --target "http://127.0.0.1:$port" \
          >"$LOGS/callgrind-client-$c-$shape-$n.log" 2>&1 ||
          { FAILED_CALLS+=("client instructions: $c $shape $n"); say "FAILED: $c client under callgrind"; }
        i=$(awk '/^totals:/{print $2}' "$dump" 2>/dev/null)
        res+=("$n" "${i:-0}")
        printf '%s instructions in all\n' "${i:-?}" >&2
      done
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$shape" "${res[@]}" >>"$CI_TSV"
    done
  done
  kill "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
}
