#!/usr/bin/env bash
# Installs what the extension's tests need besides the extension itself: Debian's Chromium and
# ripgrep, and code-server (a real VS Code workbench + Node extension host) with playwright-core,
# in test/vscode/host/ with its own lockfile. Offline-safe: every download comes from npm or apt.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v rg >/dev/null || need+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
dpkg -s pkg-config >/dev/null 2>&1 || need+=(pkg-config)
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || need+=(fonts-dejavu-core)
if ((${#need[@]})); then
  echo "Installing ${need[*]} with apt (for the VS Code tests)…" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ -x "$here/host/node_modules/.bin/code-server" ]; then exit 0; fi
# @vscode/ripgrep's postinstall downloads rg from GitHub: seed its cache with Debian's rg.
tmp="${TMPDIR:-/tmp}"
cache="$tmp/vscode-ripgrep-cache-1.15.11"
mkdir -p "$cache"
if [ ! -f "$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" ]; then
  work="$(mktemp -d)"
  cp "$(command -v rg)" "$work/rg"
  tar -C "$work" -czf "$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" rg
  rm -rf "$work"
fi
cd "$here/host"
echo "Installing code-server (the browser-hosted VS Code the extension runs in) into test/vscode/host/: about a minute, once…" >&2
# node-pty's postinstall runs npx node-gyp (needs yes); code-server's postinstall needs --unsafe-perm as root.
# Its install scripts must run: the project's ignore-scripts (.npmrc) reaches here as npm_config_ignore_scripts.
if [ -f package-lock.json ]; then cmd=ci; else cmd=install; fi
npm_config_yes=true npm "$cmd" --ignore-scripts=false --unsafe-perm --no-audit --no-fund --foreground-scripts=false >/dev/null 2>"$here/host/install.log" || { cat "$here/host/install.log" >&2; exit 1; }
echo "code-server installed." >&2
