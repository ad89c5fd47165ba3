#!/usr/bin/env bash
# Installs the Debian packages the full test suite uses, when run as root (as CI is).
# Elsewhere it only says what is missing; the tests that need it are then skipped, loudly.
set -u
need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "make: installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || echo "make: WARNING: could not install ${need[*]}; the tests that need them will be skipped"
  # Debian starts no services in this sandbox; the tests start their own mariadbd on 127.0.0.1.
else
  echo "make: WARNING: missing ${need[*]} (run 'sudo apt-get install ${need[*]}');" \
       "the tests that need them (markers: mariadb, spark) will be SKIPPED"
fi
exit 0
