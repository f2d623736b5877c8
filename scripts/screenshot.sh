#!/usr/bin/env bash
# Screenshot pages of the built book with headless Chromium.
#
#   scripts/screenshot.sh                      # index.html and every notebooks/**/*.html page
#   scripts/screenshot.sh book/intro.html ...  # just these pages (paths inside _build/html)
#
# Serves _build/html on 127.0.0.1 (a free port, stopped on exit) and writes one PNG per page to
# _build/screenshots/, named after the page's path (notebooks/02_x/01_y.html becomes
# notebooks__02_x__01_y.png).  Chinese text needs a CJK font (Debian: fonts-noto-cjk).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

HTML=_build/html
OUT=_build/screenshots
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] && PYTHON=.venv/bin/python

if [ ! -f "$HTML/index.html" ]; then
    echo "screenshot.sh: $HTML/index.html not found; run 'make book' first" >&2
    exit 1
fi
if ! command -v "$CHROMIUM" >/dev/null; then
    echo "screenshot.sh: no Chromium at $CHROMIUM (apt-get install chromium, or set CHROMIUM=...)" >&2
    exit 1
fi

if [ $# -gt 0 ]; then
    pages=("$@")
else
    pages=(index.html)
    while IFS= read -r page; do pages+=("$page"); done \
        < <(cd "$HTML" && find notebooks -name '*.html' 2>/dev/null | sort)
fi

port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
profile=$(mktemp -d)
"$PYTHON" -m http.server "$port" --bind 127.0.0.1 --directory "$HTML" >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$profile"' EXIT

# Wait (up to 10 s) for the server to answer.
for _ in $(seq 100); do
    if "$PYTHON" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/', timeout=1)" \
        2>/dev/null; then break; fi
    sleep 0.1
done

mkdir -p "$OUT"
for page in "${pages[@]}"; do
    page=${page#/}
    png="$OUT/$(echo "${page%.html}" | sed 's#/#__#g').png"
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" --window-size=1400,2400 --virtual-time-budget=8000 \
        --screenshot="$png" "http://127.0.0.1:$port/$page" >/dev/null 2>&1
    echo "$png"
done
