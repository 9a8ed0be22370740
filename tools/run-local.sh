#!/bin/sh
# make run: seeds demo data into an empty local database, makes a demo
# admin, prints a one-time sign-in link for them, then serves on the
# embedded defaults (SQLite and a folder under data/).
set -eu
bin=$1
listen=$2
orders=$3
demo_admin=1

mkdir -p data
"$bin" seed-demo --orders "$orders" --if-empty --log-format text
"$bin" staff add "$demo_admin" --role admin --name "Demo admin" \
    --log-format text --log-level warning
link=$("$bin" login-url --customer "$demo_admin" --ttl 900 \
    --base "http://$listen" --listen "$listen" --log-level warning)

echo
echo "printdesk is starting on http://$listen/"
echo "Sign in as the demo admin with this link (it works once, for 15 minutes):"
echo
echo "    $link"
echo
echo "A new link: $bin login-url --customer $demo_admin --ttl 900"
echo "The storefront's side (upload bridge demo): http://$listen/demo/storefront"
echo "Stop the server with Ctrl-C."
echo
exec "$bin" serve --listen "$listen" --log-format text
