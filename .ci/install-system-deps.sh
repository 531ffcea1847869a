#!/usr/bin/env bash
# System packages the integration tests need, from Debian: the CNCF distribution registry
# (source and target registries), skopeo (an independent check that images arrive
# bit-identical) and a Java runtime (DynamoDB Local). Installs only what is missing.
set -euo pipefail
need=()
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
# pip, the judge of the PyPI tests (pip download from the target's simple index).
python3 -m pip --version >/dev/null 2>&1 || need+=(python3 python3-pip)
# npm, the judge of the npm tests (npm pack from the target).
command -v npm >/dev/null 2>&1 || need+=(npm)
# Test CAs and the token issuer's key (registry TLS and Bearer tests).
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# Maven as the judge of maven2 imports, offline: its dependency plugin (and the junit it needs) from Debian's /usr/share/maven-repo.
command -v mvn >/dev/null 2>&1 || need+=(maven)
[ -d /usr/share/maven-repo/org/apache/maven/plugins/maven-dependency-plugin/3.5.0 ] || need+=(libmaven-dependency-plugin-java)
[ -d /usr/share/maven-repo/junit/junit/4.x ] || need+=(junit4)
# A real browser renders the bundle report (headless), and a real terminal shows progress bars.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The package starts a registry on all interfaces as a service; tests start their own on 127.0.0.1.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl stop docker-registry || true
fi
pkill -f '^/usr/bin/docker-registry serve /etc/docker/registry/config.yml' 2>/dev/null || true
