#!/bin/bash
# Fail when etc/watcher-predictive.conf.sample does not match the options
# the code declares. Regenerate it with: tox -e genconfig
set -euo pipefail

cd "$(dirname "$0")/.."
sample=etc/watcher-predictive.conf.sample
generated=$(mktemp)
trap 'rm -f "$generated"' EXIT

oslo-config-generator \
    --config-file etc/oslo-config-generator/watcher-predictive.conf \
    --output-file "$generated"

if ! diff -u "$sample" "$generated"; then
    echo "$sample is out of date: run 'tox -e genconfig' and commit it." >&2
    exit 1
fi
echo "$sample is up to date."
