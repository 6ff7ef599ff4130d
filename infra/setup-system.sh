#!/usr/bin/env bash
# Installs the system packages das needs when they are missing: Java 17+ (Spark), PostgreSQL + PostGIS, GDAL's
# command-line tools (gdal-bin: ogrinfo reads the served layers as QGIS does; the spatial-serving tests use it), and
# Chromium with its driver (the web app's browser test).
# As root on Debian/Ubuntu it installs them; otherwise it names the packages to install and exits non-zero.
set -euo pipefail

need_java=0
if ! command -v java >/dev/null 2>&1; then
  need_java=1
else
  major=$(java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print (v[1] == "1" ? v[2] : v[1])}')
  [ "${major:-0}" -ge 17 ] || need_java=1
fi

need_pg=0
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
  need_pg=1
else
  major=$(basename "$(dirname "$pg_bin")")
  ls /usr/share/postgresql/"$major"/extension/postgis.control >/dev/null 2>&1 || need_pg=1
fi

need_gdal=0
command -v ogrinfo >/dev/null 2>&1 || need_gdal=1

# The web app's browser test drives Debian's Chromium through its driver (no browser downloads).
need_chromium=0
{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || need_chromium=1

[ "$need_java" = 0 ] && [ "$need_pg" = 0 ] && [ "$need_gdal" = 0 ] && [ "$need_chromium" = 0 ] && exit 0

packages=()
[ "$need_java" = 1 ] && packages+=(openjdk-17-jre-headless)
if [ "$need_pg" = 1 ]; then
  pg_major=${major:-15}
  packages+=(postgresql "postgresql-${pg_major}-postgis-3")
fi
[ "$need_gdal" = 1 ] && packages+=(gdal-bin)
[ "$need_chromium" = 1 ] && packages+=(chromium chromium-driver)

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "das setup: missing system packages: ${packages[*]}. Install them (Debian/Ubuntu: sudo apt-get install ${packages[*]}), or run PostGIS with infra/docker-compose.yml and set DAS_DATABASE_URL." >&2
  exit 1
fi
# No default Debian cluster on port 5432: das runs its own cluster under DAS_HOME.
mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/das-no-main-cluster.conf
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${packages[@]}"
