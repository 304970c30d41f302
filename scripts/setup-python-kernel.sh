#!/usr/bin/env bash
# Installs the real Python kernel the notebook tests talk to (test/support/kernel_bridge.py):
# Debian's python3-ipykernel, python3-jupyter-client, python3-numpy and python3-torch. They are
# test-time only: the extension itself never needs Python. Idempotent; SKIP_APT=1 skips.
set -euo pipefail
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
need=()
for p in python3-ipykernel python3-jupyter-client python3-numpy python3-torch; do
  installed "$p" || need+=("$p")
done
if [ ${#need[@]} -eq 0 ]; then
  echo "setup-python-kernel: $(/usr/bin/python3 -c 'import ipykernel, jupyter_client, numpy, torch; print("ipykernel", ipykernel.__version__, "jupyter_client", jupyter_client.__version__, "numpy", numpy.__version__, "torch", torch.__version__)')"
  exit 0
fi
if [ -n "${SKIP_APT:-}" ]; then echo "setup-python-kernel: missing ${need[*]} (SKIP_APT set)" >&2; exit 1; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-python-kernel: missing Debian packages: ${need[*]}" >&2
  echo "  install them as root: apt-get update && apt-get install -y --no-install-recommends ${need[*]}" >&2
  exit 1
fi
echo "setup-python-kernel: apt-get install ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
/usr/bin/python3 -c 'import ipykernel, jupyter_client, numpy, torch'
