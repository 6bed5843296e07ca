#!/usr/bin/env bash
# Installs what the real-VS-Code tests need, idempotently, into a git-ignored folder:
#   Debian: chromium (driven by playwright-core), ripgrep, headers for code-server's native modules, and a CJK font
#           (fonts-noto-cjk: without one Chinese renders as boxes, so screenshots could not show broken Chinese)
#   npm:    code-server 4.100.3 (VS Code 1.100.3, the newest that runs on Node 20) + playwright-core
# Everything is fetched from Debian's archive or the npm registry; nothing downloads binaries of its own.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=${E2E_TOOLS:-$ROOT/.tools/e2e}
CS_VERSION=4.100.3
PW_VERSION=1.65.1
# @vscode/ripgrep's version/tag pinned by code-server 4.100.3's lib/vscode shrinkwrap; its postinstall would
# download rg, so its cache is pre-seeded with Debian's rg.
RG_PKG=1.15.11 RG_TAG=v13.0.0-10

need_apt=0
command -v chromium >/dev/null || need_apt=1
command -v rg >/dev/null || need_apt=1
[ -e /usr/include/gssapi/gssapi.h ] || need_apt=1
[ -e /usr/include/X11/extensions/XKBfile.h ] || need_apt=1
fc-list 2>/dev/null | grep -qi liberation || need_apt=1
fc-list :lang=zh 2>/dev/null | grep -qi 'noto.*cjk' || need_apt=1
if [ $need_apt = 1 ]; then
  echo "e2e-setup: installing Debian packages (chromium, ripgrep, build headers, CJK font)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get -o DPkg::Lock::Timeout=900 update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends \
    chromium fonts-liberation fonts-noto-cjk ripgrep libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config build-essential python3 curl >/dev/null
fi

if [ ! -x "$TOOLS/node_modules/.bin/code-server" ] || [ ! -d "$TOOLS/node_modules/playwright-core" ]; then
  echo "e2e-setup: installing code-server $CS_VERSION and playwright-core $PW_VERSION into $TOOLS"
  mkdir -p "$TOOLS/tmp/vscode-ripgrep-cache-$RG_PKG"
  tar czf "$TOOLS/tmp/vscode-ripgrep-cache-$RG_PKG/ripgrep-$RG_TAG-x86_64-unknown-linux-musl.tar.gz" -C "$(dirname "$(command -v rg)")" rg
  # npm >= 11.10 skips dependencies' install scripts unless each package is approved by name, and code-server's
  # postinstall runs a nested `npm install` that builds VS Code's native modules against the local Node. So these
  # tools are installed with npm 10 (from the registry, first on PATH so the nested installs use it too).
  if [ ! -x "$TOOLS/npm10/node_modules/.bin/npm" ]; then
    mkdir -p "$TOOLS/npm10" && echo '{"private":true}' > "$TOOLS/npm10/package.json"
    ( cd "$TOOLS/npm10" && npm install --no-audit --no-fund npm@10 > "$TOOLS/npm10.log" 2>&1 ) || { tail -20 "$TOOLS/npm10.log"; exit 1; }
  fi
  export PATH="$TOOLS/npm10/node_modules/.bin:$PATH"
  echo '{"private":true}' > "$TOOLS/package.json"
  ( cd "$TOOLS" && TMPDIR="$TOOLS/tmp" npm_config_unsafe_perm=true npm_config_yes=true npm_config_nodedir=/usr \
      npm install --no-audit --no-fund "code-server@$CS_VERSION" "playwright-core@$PW_VERSION" > "$TOOLS/install.log" 2>&1 ) \
    || { tail -50 "$TOOLS/install.log"; exit 1; }
  [ -x "$TOOLS/node_modules/.bin/code-server" ] || { echo "e2e-setup: code-server missing after install"; tail -30 "$TOOLS/install.log"; exit 1; }
fi
echo "e2e-setup: ready ($TOOLS)"
