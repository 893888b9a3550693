#!/usr/bin/env bash
# Make sure the headless browser that `make site-check` drives is installed (run by `make test`).
#
# Looks for chromium, chromium-browser, google-chrome or google-chrome-stable on PATH. When none is
# there and this user can install system packages (root, with apt-get), installs Debian's chromium;
# otherwise stops with the exact command to run. Never downloads a browser build of its own.
set -euo pipefail

BROWSERS=(chromium chromium-browser google-chrome google-chrome-stable)
for name in "${BROWSERS[@]}"; do
    if command -v "$name" >/dev/null 2>&1; then
        exit 0
    fi
done

if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        echo "ensure_chromium: no Chromium found (make site-check needs one); installing Debian's package:"
        echo "    apt-get update && apt-get install -y chromium"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
        for name in "${BROWSERS[@]}"; do
            if command -v "$name" >/dev/null 2>&1; then
                echo "ensure_chromium: installed $(command -v "$name")"
                exit 0
            fi
        done
        echo "error: apt-get installed the chromium package but no ${BROWSERS[*]} command is on PATH" >&2
        exit 1
    fi
    echo "error: no Chromium found (make site-check drives a headless Chromium). Install it with:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y chromium" >&2
    echo "then run make test again." >&2
    exit 1
fi
echo "error: no Chromium found (make site-check drives a headless Chromium) and no apt-get to install it." >&2
echo "Install Chromium or Google Chrome with this system's package manager so that one of" >&2
echo "${BROWSERS[*]} is on PATH, then run make test again." >&2
exit 1
