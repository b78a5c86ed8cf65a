#!/usr/bin/env bash
# Runs every test of callengine on a fresh machine: format and vet checks, the
# test suite (with the race detector on the core packages), a short run of
# every fuzz target over its kept corpus, and smoke runs of the benchmarks.
# It installs what it needs; today that is only the Go toolchain's own tools.
set -euo pipefail
cd "$(dirname "$0")"

FUZZTIME=${FUZZTIME:-5s}
CORE="./errcode/... ./events/... ./fsm/... ./journal/... ./actors/... ./engine/... ./clock/... ./ids/... ./adapters/..."

step() { printf '\n== %s\n' "$*"; }

if ! command -v go >/dev/null 2>&1; then
  export PATH="$PATH:/usr/local/go/bin"
fi
go version

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "tests with the race detector: core packages"
go test -race -count=1 $CORE

step "tests: everything else"
go test -count=1 $(go list ./... | grep -v -E '/(errcode|events|fsm|journal|actors|engine|clock|ids|adapters)(/|$)')

step "fuzz targets, $FUZZTIME each (corpus under testdata/fuzz)"
for file in $(grep -l -r --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' .); do
  pkg="./$(dirname "${file#./}")"
  for target in $(grep -o -E '^func Fuzz[A-Za-z0-9_]+' "$file" | sed 's/^func //'); do
    echo "-- $pkg $target"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
  done
done

step "benchmark smoke runs"
go test -run '^$' -bench . -benchtime 1x ./journal/
go test -run '^$' -bench Lifecycle -benchtime 2000x ./bench/

step "all tests passed"
