#!/bin/sh
# Installs the Debian packages listed in the given files, skipping those
# already present. Needs root (or sudo) only when something is missing.
set -eu

missing=""
for list in "$@"; do
    for pkg in $(grep -v '^#' "$list"); do
        # node and npm may come from elsewhere than Debian; accept them.
        case "$pkg" in
        nodejs) command -v node >/dev/null 2>&1 && continue ;;
        npm) command -v npm >/dev/null 2>&1 && continue ;;
        esac
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
            grep -q "install ok installed"; then
            missing="$missing $pkg"
        fi
    done
done
[ -z "$missing" ] && exit 0

echo "installing Debian packages:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    --no-install-recommends $missing >/dev/null
