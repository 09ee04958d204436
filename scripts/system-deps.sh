#!/usr/bin/env bash
# OS libraries the Python packages need at run time: Pango/HarfBuzz (+ subsetting) for weasyprint (PDF reports).
# Installs them from the OS packages when missing (root or sudo); otherwise only checks.
set -euo pipefail
missing=()
ldconfig -p 2>/dev/null | grep -q 'libpango-1.0.so' || missing+=(libpango-1.0-0)
ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so' || missing+=(libpangoft2-1.0-0)
ldconfig -p 2>/dev/null | grep -q 'libharfbuzz.so' || missing+=(libharfbuzz0b)
ldconfig -p 2>/dev/null | grep -q 'libharfbuzz-subset.so' || missing+=(libharfbuzz-subset0)  # font subsetting
fc-list >/dev/null 2>&1 && [ -n "$(fc-list 2>/dev/null | head -n 1)" ] || missing+=(fonts-dejavu-core fontconfig)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "system-deps: installing ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${missing[@]}"; } >/tmp/taxreport-system-deps.log 2>&1; then
  echo "system-deps: could not install ${missing[*]} (see /tmp/taxreport-system-deps.log);" \
       "PDF reports need Pango: install it with your package manager" >&2
fi
