#!/usr/bin/env bash
# Runs every test of callengine on a fresh machine: format and vet checks, the
# test suite (with the race detector on the core packages), a short run of
# every fuzz target over its kept corpus, smoke runs of the benchmarks, the
# example and random simulator scenarios, and `callengine bench --quick`.
#
# It installs what it needs when it is missing, from Debian's packages with
# --no-install-recommends (none of the recommended packages, which bring in
# about a hundred more and upgrade systemd; apt's own summary line says how
# many packages that was): chromium, for the browser tests of the softphone
# page (e2e/) and of the replay ladder (replay/ladder_test.go), and the SIP
# peers of adapters/sip's tests: sip-tester (SIPp) and baresip-core (a
# softphone driven over its ctrl_tcp module).
#
# The browser tests and the SIP tests with sipp and baresip run in network
# namespaces with only loopback (unshare -n): the pages, the phones, the
# server and the media never leave them.
# Before them, JsSIP is bundled with npm and esbuild from the npm registry
# (e2e/sipjs/build.sh, versions pinned by its package-lock.json), outside
# the namespace; node and npm are on the machine.
#
# The console shows one line per package, fuzz target or step, the output of
# failing tests in full, the time each step took, and last the count line
# `tests: N passed, N failed` (top-level tests, examples and fuzz targets).
# Everything, the log lines of passing tests included, goes to a log file
# whose path is printed at the start and at the end ($TEST_LOG chooses it).
#
# Environment: FUZZTIME (5s) is each fuzz target's time; SHORT=1 passes
# -short to the tests (skips a journal copy measurement and the webhook
# SIGKILL test, runs fewer fsm property sequences); SIM_SEED (1) seeds the
# random scenarios.
set -euo pipefail
cd "$(dirname "$0")"

FUZZTIME=${FUZZTIME:-5s}
CORE_DIRS="errcode events fsm journal internal engine clock ids adapters/loopback adapters/ws simulator auth history webhooks media server"
CORE=""
for d in $CORE_DIRS; do CORE="$CORE ./$d/..."; done
SHORT_FLAG=()
if [ "${SHORT:-}" = 1 ]; then SHORT_FLAG=(-short); fi

LOG=${TEST_LOG:-$(mktemp -t callengine-test.XXXXXX.log)}
: > "$LOG"
TMP=$(mktemp -d -t callengine-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
echo "full output: $LOG"

# Steps and their times. A step that streams prints "== name" when it starts
# and its time when it ends; steps that run side by side print their buffered
# output, headed "== name (N s)", when they end. The times are listed again
# before the count line.
TIMES=()
T0=$SECONDS
step_start() { STEP_NAME=$1; STEP_T0=$SECONDS; printf '\n== %s\n' "$1"; }
step_end() {
  local s=$((SECONDS - STEP_T0))
  printf '   (%d s)\n' "$s"
  TIMES+=("$(printf '%5d s  %s' "$s" "$STEP_NAME")")
}
summary() {
  local passed failed
  passed=$(grep -c -E '^--- PASS' "$LOG" || true)
  failed=$(grep -c -E '^--- FAIL' "$LOG" || true)
  if [ "${#TIMES[@]}" -gt 0 ]; then
    printf '\n== times\n'
    printf '   %s\n' "${TIMES[@]}"
    printf '%8d s  total\n' "$((SECONDS - T0))"
  fi
  echo "full output: $LOG"
  echo "tests: $passed passed, $failed failed"
}
fail() { # fail <exit code> <message>
  echo "$2; full output in $LOG"
  summary
  exit "$1"
}

# jsonfilter reads `go test -json` and writes the text that `go test -v`
# would print to $LOG. The console gets one line per package, and the output
# of a test only when it fails (its log lines, a panic, a data race); a
# package that fails outside any test (a build error, a timeout, a panic in
# TestMain) prints what it printed. Output of passing tests — expected
# errors, panics that a test provokes and recovers — stays in the log.
jsonfilter() {
  LC_ALL=C awk -v logfile="$LOG" '
    function field(name,   n) {
      n = length(name)
      if (match($0, "\"" name "\":\"([^\"\\\\]|\\\\.)*\""))
        return substr($0, RSTART + n + 4, RLENGTH - n - 5)
      return ""
    }
    function hexval(h,   i, v) {
      v = 0
      for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", tolower(substr(h, i, 1))) - 1
      return v
    }
    function utf8(c) {
      if (c < 128) return sprintf("%c", c)
      if (c < 2048) return sprintf("%c%c", 192 + int(c / 64), 128 + c % 64)
      return sprintf("%c%c%c", 224 + int(c / 4096), 128 + int(c / 64) % 64, 128 + c % 64)
    }
    function unesc(s,   out, i, c) {
      out = ""
      while ((i = index(s, "\\")) > 0) {
        out = out substr(s, 1, i - 1)
        c = substr(s, i + 1, 1)
        if (c == "u") { out = out utf8(hexval(substr(s, i + 2, 4))); s = substr(s, i + 6); continue }
        if (c == "n") c = "\n"; else if (c == "t") c = "\t"; else if (c == "r") c = "\r"
        else if (c == "b") c = "\b"; else if (c == "f") c = "\f"
        out = out c
        s = substr(s, i + 2)
      }
      return out s
    }
    function short(p) { sub(/^github\.com\/callengine\/callengine\//, "", p); return p }
    !/^\{/ { print; print >> logfile; next }
    {
      action = field("Action"); pkg = field("Package"); test = unesc(field("Test"))
      if (pkg == "") pkg = field("ImportPath")
      out = unesc(field("Output"))
      if (action == "output" || action == "build-output") printf "%s", out >> logfile
      if (action == "build-output") { printf "%s", out; next }
      if (test != "") {
        k = pkg SUBSEP test
        if (action == "run") running[k] = 1
        else if (action == "output") buf[k] = buf[k] out
        else if (action == "pass" || action == "skip") { delete buf[k]; delete running[k] }
        else if (action == "fail") { printf "%s", buf[k]; delete buf[k]; delete running[k] }
        next
      }
      if (action == "output") { pbuf[pkg] = pbuf[pkg] out; if (out ~ /^ok /) okline[pkg] = out; next }
      if (action == "skip") { notests++; next }
      if (action == "pass") { printf "ok    %-28s %s\n", short(pkg), okelapsed(pkg); next }
      if (action == "fail") {
        for (k in running) {
          split(k, kp, SUBSEP)
          if (kp[1] == pkg) { printf "%s", buf[k]; delete buf[k]; delete running[k] }
        }
        if (pbuf[pkg] == "") pbuf[pkg] = "FAIL\t" pkg "\n"
        printf "%s", pbuf[pkg]
      }
    }
    function okelapsed(p,   s, n, f) { # "ok  \tpkg\t1.2s\n": 1.2s
      s = okline[p]; sub(/\n$/, "", s); n = split(s, f, "\t")
      return (n >= 3 ? f[3] : "")
    }
    END { if (notests) printf "      (%d packages without tests)\n", notests }
  '
}

gotest() {
  set +e
  go test -json "${SHORT_FLAG[@]}" "$@" 2>&1 | jsonfilter
  local rc=${PIPESTATUS[0]}
  set -e
  if [ "$rc" -ne 0 ]; then fail "$rc" "go test $* failed (exit $rc)"; fi
}

if ! command -v go >/dev/null 2>&1; then
  export PATH="$PATH:/usr/local/go/bin"
fi
go version

MISSING=()
if [ ! -x /usr/bin/chromium ]; then MISSING+=(chromium); fi
if ! command -v sipp >/dev/null 2>&1; then MISSING+=(sip-tester); fi
if ! command -v baresip >/dev/null 2>&1; then MISSING+=(baresip-core); fi
if ! command -v ip >/dev/null 2>&1; then MISSING+=(iproute2); fi
if [ "${#MISSING[@]}" -gt 0 ]; then
  step_start "installing ${MISSING[*]} (browser tests; SIP peers)"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${MISSING[@]}" > "$TMP/apt.out" 2>&1; then
    cat "$TMP/apt.out"; fail 1 "apt-get install ${MISSING[*]} failed"
  fi
  cat "$TMP/apt.out" >> "$LOG"
  grep -E 'newly installed' "$TMP/apt.out" || true
  step_end
fi

step_start "gofmt and go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; fail 1 "gofmt failed"
fi
go vet ./... || fail 1 "go vet failed"
step_end

step_start "tests with the race detector: core packages"
gotest -race -count=1 $CORE
step_end

step_start "tests: everything else"
gotest -count=1 $(go list ./... | grep -v -E "/($(echo $CORE_DIRS | tr ' ' '|')|adapters/sip|e2e)(/|\$)")
step_end

# The SIP tests against real peers (sipp, baresip; adapters/sip), with the
# race detector, in a network namespace of their own with only loopback
# (127.0.0.0/8: the trunk tests use 127.0.0.2 and 127.0.0.3). Built outside.
step_start "SIP tests (adapters/sip, race detector): sipp and baresip in a network namespace with only loopback"
go test -race -c -o "$TMP/sip.test" ./adapters/sip
set +e
( cd adapters/sip && unshare -n sh -c "ip link set lo up && '$TMP/sip.test' -test.count=1 -test.v -test.timeout 10m" ) > "$TMP/sip.out" 2>&1
rc=$?
set -e
cat "$TMP/sip.out" >> "$LOG"
printf '   %d tests passed\n' "$(grep -c -E '^--- PASS' "$TMP/sip.out" || true)"
if [ "$rc" -ne 0 ]; then grep -v '^time=' "$TMP/sip.out" | tail -200; fail "$rc" "the SIP tests failed"; fi
step_end

# sipjs_bundle builds the JsSIP bundle of e2e/sipjs_test.go (npm and
# esbuild from the npm registry, pinned by e2e/sipjs/package-lock.json) here,
# outside the namespace, where the registry can be reached.
sipjs_bundle() {
  if ! e2e/sipjs/build.sh "$TMP/jssip.js" > "$TMP/sipjs-build.out" 2>&1; then
    cat "$TMP/sipjs-build.out"; fail 1 "e2e/sipjs/build.sh (JsSIP bundle: needs node, npm and the npm registry) failed"
  fi
}

# The browser tests: a real callengine serve, headless Chromium with a tab
# per person, real WebRTC audio; inside a network namespace of their own
# with only loopback. Built outside it (the module cache is on this side).
step_start "browser tests (e2e/): Chromium and callengine serve in a network namespace with only loopback"
go build -o "$TMP/callengine" ./cmd/callengine
go test -c -o "$TMP/e2e.test" ./e2e
sipjs_bundle
set +e
( cd e2e && unshare -n sh -c "ip link set lo up && CALLENGINE_BIN='$TMP/callengine' CALLENGINE_SIPJS_BUNDLE='$TMP/jssip.js' '$TMP/e2e.test' -test.count=1 -test.v -test.timeout 10m" ) > "$TMP/e2e.out" 2>&1
rc=$?
set -e
cat "$TMP/e2e.out" >> "$LOG"
grep -E '^(--- |ok|PASS|FAIL)' "$TMP/e2e.out" | sed 's/^/   /' || true
if [ "$rc" -ne 0 ]; then cat "$TMP/e2e.out"; fail "$rc" "the browser tests failed"; fi
step_end

# Go 1.26's fuzz coordinator can fail a target with a bare "context deadline
# exceeded" when -fuzztime runs out while a worker is busy (golang/go#75804,
# fixed in Go 1.27): no input failed, none is written. Such a run is tried
# again, up to three tries in all (on a busy machine two in a row happen:
# FuzzParseDestination, 2026-12-07); any other failure — a failing input
# above all — fails at once.
#
# fuzz <package> <target> runs one target with one worker, its output to
# $TMP/fuzz.<package>.<target>.out (what it printed) and .rc (its exit
# code).
fuzz() {
  local out="$TMP/fuzz.${1//\//_}.$2" rc
  set +e
  go test -v -run '^$' -fuzz "^$2\$" -fuzztime "$FUZZTIME" -parallel 1 "$1" > "$out.out" 2>&1
  rc=$?
  local try=1
  : > "$out.earlier"
  while [ "$rc" -ne 0 ] && [ "$try" -lt 3 ] && grep -q 'context deadline exceeded' "$out.out" && ! grep -q 'Failing input written' "$out.out"; do
    {
      echo "   $2: the fuzz coordinator's deadline race (golang/go#75804), no failing input; once more"
      sed "s/^/   (try $try, deadline race) /" "$out.out"
    } >> "$out.earlier"
    try=$((try + 1))
    go test -v -run '^$' -fuzz "^$2\$" -fuzztime "$FUZZTIME" -parallel 1 "$1" > "$out.out" 2>&1
    rc=$?
  done
  if [ -s "$out.earlier" ]; then
    cat "$out.earlier" "$out.out" > "$out.both" && mv "$out.both" "$out.out"
  fi
  set -e
  echo "$rc" > "$out.rc"
}
# fuzz_report <package> <target>: its line on the console, its output to the
# log; all of its output on the console if it failed.
FUZZ_FAILED=0
fuzz_report() {
  local out="$TMP/fuzz.${1//\//_}.$2" rc
  rc=$(cat "$out.rc")
  cat "$out.out" >> "$LOG"
  if [ "$rc" -eq 0 ]; then
    printf 'ok    %-28s %s%s\n' "${1#./}" "$2" "$(grep -q 'deadline race' "$out.out" && echo ' (tried again: deadline race)')"
  else
    cat "$out.out"
    printf 'FAIL  %-28s %s (exit %s)\n' "${1#./}" "$2" "$rc"
    FUZZ_FAILED=1
  fi
}

step_start "fuzz targets, $FUZZTIME each, two at a time (corpus under testdata/fuzz)"
targets=()
for file in $(grep -l -r --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' . | sort); do
  pkg="./$(dirname "${file#./}")"
  for target in $(grep -o -E '^func Fuzz[A-Za-z0-9_]+' "$file" | sed 's/^func //'); do
    targets+=("$pkg $target")
  done
done
# Two targets run at once (one worker each, one per core); each is reported
# when it ends.
running=()
for t in "${targets[@]}"; do
  # shellcheck disable=SC2086
  fuzz $t &
  running+=("$!:$t")
  if [ "${#running[@]}" -ge 2 ]; then
    wait "${running[0]%%:*}" || true
    fuzz_report ${running[0]#*:}
    running=("${running[@]:1}")
  fi
done
for r in "${running[@]}"; do
  wait "${r%%:*}" || true
  fuzz_report ${r#*:}
done
if [ "$FUZZ_FAILED" -ne 0 ]; then fail 1 "a fuzz target failed"; fi
step_end

# The benchmark smoke runs (each benchmark once or a few times: do they still
# run?) go on beside the simulator; each prints its output when it ends. Both
# run their commands one after the other; a failure does not stop the other.
bench_smoke() {
  local rc=0
  go test -run '^$' -bench . -benchtime 1x ./journal/ || rc=1
  go test -run '^$' -bench Lifecycle -benchtime 2000x ./bench/ || rc=1
  go test -run '^$' -bench Replay -benchtime 1x ./bench/ || rc=1
  go test -run '^$' -bench Replay -benchtime 1x ./replay/ || rc=1
  go test -run '^$' -bench Transfer -benchtime 20x ./engine/ || rc=1
  return $rc
}
sim() {
  local rc=0 out
  go run ./cmd/callengine sim --quiet examples/scenarios/*.yaml || rc=1
  out=$(mktemp -d -t callengine-sim.XXXXXX)
  go run ./cmd/callengine sim --random 100 --seed "${SIM_SEED:-1}" --quiet --out "$out" || rc=1
  rm -rf "$out"
  return $rc
}
# bg_start <key> <function> runs the function in the background, its output
# to $TMP/<key>.out, its exit code and time to $TMP/<key>.rc; bg_report waits
# for it, then prints its header and time and its output through a console
# filter (all of its output when it failed).
bg_start() {
  local key=$1; shift
  ( t=$SECONDS; set +e; "$@" > "$TMP/$key.out" 2>&1; echo "$? $((SECONDS - t))" > "$TMP/$key.rc" ) &
}
bg_report() { # bg_report <pid> <key> <name> <console filter function>
  wait "$1" || true
  local rc s
  read -r rc s < "$TMP/$2.rc"
  cat "$TMP/$2.out" >> "$LOG"
  printf '\n== %s (%d s)\n' "$3" "$s"
  TIMES+=("$(printf '%5d s  %s' "$s" "$3")")
  if [ "$rc" -ne 0 ]; then
    cat "$TMP/$2.out"
    fail "$rc" "$3 failed"
  fi
  "$4" < "$TMP/$2.out"
}
# A line per package of benchmarks: how many ran (their figures are in the log).
bench_console() {
  awk '/^Benchmark/ { n++ }
       /^(ok|FAIL)[ \t]/ { p = $2; sub(/^github\.com\/callengine\/callengine\//, "", p)
                           printf "%-4s  %-28s %d benchmarks, %s\n", $1, p, n, $3; n = 0 }'
}
# The random run's line and any failure; the example scenarios counted.
sim_console() {
  local out
  out=$(cat)
  grep -E '^(FAIL|[0-9]+ of|reproduce)|^ok  [0-9]+ random' <<<"$out" || true
  echo "ok  $(grep -c -E '^ok  examples/' <<<"$out" || true) example scenarios (a line each in the log)"
}
BG_T0=$SECONDS
bg_start bench bench_smoke; bench_pid=$!
bg_start sim sim; sim_pid=$!
bg_report "$bench_pid" bench "benchmark smoke runs (beside the simulator)" bench_console
bg_report "$sim_pid" sim "callengine sim: every example scenario, then 100 random ones (each run twice)" sim_console
TIMES+=("$(printf '%5d s  %s' "$((SECONDS - BG_T0))" "the two above, side by side")")

step_start "callengine bench --quick (every workload on a real journal; under 30 s)"
BENCH_OUT=$TMP/bench
mkdir -p "$BENCH_OUT"
set +e
go run ./cmd/callengine bench --quick --json "$BENCH_OUT/report.json" --plot "$BENCH_OUT/plot.svg" > "$TMP/bench-quick.out" 2>&1
rc=$?
set -e
cat "$TMP/bench-quick.out" >> "$LOG"
if [ "$rc" -ne 0 ]; then cat "$TMP/bench-quick.out"; fail "$rc" "callengine bench --quick failed"; fi
# The figures, the targets that were measured (a quick run is too small for
# most: those say n/a, in the log), the machine; not the report's and plot's
# paths, which are removed at the end.
awk '/^workload +figure/ { on = 1 } /^workload +target/ { on = 2; print; next }
     /^(report|plot): / { next }
     on == 1 || (on == 2 && !/n\/a:/) || /^(raw bbolt|go1)/' "$TMP/bench-quick.out"
if ! { test -s "$BENCH_OUT/report.json" && test -s "$BENCH_OUT/plot.svg"; }; then
  fail 1 "callengine bench --quick wrote no report or no plot"
fi
step_end

summary
