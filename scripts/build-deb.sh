#!/usr/bin/env bash
# Build the Debian package (Debian 12) into dist/: dist/carpd_VERSION_all.deb.
#
# dpkg-buildpackage wants debian/ at the top of the source tree; carpd keeps it in
# packaging/debian/ (the product layout), so this copies the committed-or-modified files of
# the checkout (never .venv, dist/ or caches) to a scratch tree, adds debian/ there and runs
# `dpkg-buildpackage -us -uc -b`. Then lintian (errors fail the build; warnings are listed).
# Needs: dpkg-dev debhelper dh-python pybuild-plugin-pyproject python3-all
# python3-setuptools lintian (scripts/setup.sh installs them). Root is not needed.
#   scripts/build-deb.sh [--no-lintian]      (CARPD_DEB_TREE=HEAD: from the last commit)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
lintian=1
[ "${1:-}" = --no-lintian ] && lintian=0

for tool in dpkg-buildpackage dh dh_python3; do
    command -v "$tool" >/dev/null || { echo "build-deb.sh: $tool missing: run scripts/setup.sh" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/carpd-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/carpd
mkdir -p "$src"
# what the package is built from: the files git knows about (tracked and new, not ignored)
# under these paths, as they are in the work tree; CARPD_DEB_TREE=HEAD (or another commit)
# builds the committed tree instead, ignoring uncommitted edits
paths=(carpd docs etc packaging units pyproject.toml README.md)
if [ -n "${CARPD_DEB_TREE:-}" ]; then
    git archive --format=tar "$CARPD_DEB_TREE" -- "${paths[@]}" | tar -xf - -C "$src"
else
    git ls-files -z --cached --others --exclude-standard -- "${paths[@]}" \
        | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$src"
fi
cp -a "$src/packaging/debian" "$src/debian"

# Debian's own python3 builds the package (not a pyenv or venv python earlier on PATH)
(cd "$src" && PATH=/usr/sbin:/usr/bin:/sbin:/bin SOURCE_DATE_EPOCH=$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s) \
    dpkg-buildpackage -us -uc -b --no-sign >"$work/build.log" 2>&1) || {
    tail -40 "$work/build.log" >&2; echo "build-deb.sh: dpkg-buildpackage failed" >&2; exit 1; }

mkdir -p dist
rm -f dist/carpd_*.deb dist/carpd_*.buildinfo dist/carpd_*.changes
mv "$work"/carpd_*.deb "$work"/carpd_*.buildinfo "$work"/carpd_*.changes dist/
deb=$(ls dist/carpd_*.deb)
echo "build-deb.sh: built $deb"

if [ "$lintian" = 1 ]; then
    command -v lintian >/dev/null || { echo "build-deb.sh: lintian missing: run scripts/setup.sh" >&2; exit 1; }
    out=$(lintian --display-info "$deb" 2>&1 || true)
    echo "$out" | sed 's/^/  lintian: /'
    if echo "$out" | grep -q '^E: '; then
        echo "build-deb.sh: lintian reports errors" >&2; exit 1
    fi
    echo "build-deb.sh: lintian: $(echo "$out" | grep -c '^E: ' || true) errors, $(echo "$out" | grep -c '^W: ' || true) warnings"
fi
