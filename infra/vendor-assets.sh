#!/usr/bin/env bash
# Installs the web app's JavaScript libraries into das_api/static/vendor/ from the npm registry, at pinned versions
# checked against the registry's sha512 integrity. das serve loads nothing from a CDN: these files are served locally
# (and shipped in the wheel). Idempotent: a library already present at its version is kept.
set -euo pipefail

vendor="$(cd "$(dirname "$0")/.." && pwd)/das_api/static/vendor"
registry="${DAS_NPM_REGISTRY:-https://registry.npmjs.org}"

# name version sha512-integrity files-to-keep (paths inside the package)
LEAFLET_VERSION=1.9.4
LEAFLET_INTEGRITY="sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA=="

stamp="$vendor/.leaflet-$LEAFLET_VERSION"
[ -f "$stamp" ] && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tarball="$work/leaflet.tgz"
if ! curl -fsSL --retry 3 -o "$tarball" "$registry/leaflet/-/leaflet-$LEAFLET_VERSION.tgz"; then
  echo "das setup: could not download leaflet $LEAFLET_VERSION from $registry (set DAS_NPM_REGISTRY to a mirror)" >&2
  exit 1
fi
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$actual" != "$LEAFLET_INTEGRITY" ]; then
  echo "das setup: leaflet-$LEAFLET_VERSION.tgz does not match its pinned integrity ($actual): refusing it" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work"
mkdir -p "$vendor/images"
cp "$work/package/dist/leaflet.js" "$work/package/dist/leaflet.css" "$vendor/"
cp "$work/package/dist/images/"*.png "$vendor/images/"
cp "$work/package/LICENSE" "$vendor/LICENSE.leaflet"
touch "$stamp"
echo "das setup: leaflet $LEAFLET_VERSION installed in $vendor"
