#!/bin/sh
# build.sh OUT: installs JsSIP and esbuild from npm as package-lock.json pins
# them, in a temporary directory, and bundles JsSIP into OUT, one script that
# sets window.JsSIP (for e2e/sipjs_test.go, which reads it from
# $CALLENGINE_SIPJS_BUNDLE). It needs node, npm and the npm registry: run it
# outside the tests' network namespace.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 OUT" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
case $1 in /*) out=$1 ;; *) out=$PWD/$1 ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$here/entry.js" "$work/"
cd "$work"
npm ci --no-audit --no-fund --loglevel=error >&2
npx --no-install esbuild entry.js --bundle --format=iife --minify --log-level=warning --outfile="$out"
