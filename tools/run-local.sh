#!/bin/sh
# make run: seeds demo data into an empty local database, then serves on
# the embedded defaults (SQLite and a folder under data/).
set -eu
bin=$1
listen=$2
orders=$3

mkdir -p data
"$bin" seed-demo --orders "$orders" --if-empty --log-format text
echo
echo "printdesk is starting. Open http://$listen/ in a browser."
echo "Stop it with Ctrl-C."
echo
exec "$bin" serve --listen "$listen" --log-format text
