#!/usr/bin/env bash
# Installs everything worldengine needs on a fresh Debian machine (run as root).
#   bash install.sh        runtime dependencies
#   bash install.sh dev    plus the test dependencies
set -euo pipefail
cd "$(dirname "$0")"
if ! ldconfig -p | grep -q libusb-1.0; then   # open3d links against libusb to import
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libusb-1.0-0 >/dev/null
fi
extra=""
[ "${1:-}" = "dev" ] && extra="[dev]"
python3 -m pip install -q -c constraints.txt -e ".${extra}"
