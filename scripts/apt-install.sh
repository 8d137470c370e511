# Sourced by scripts/setup.sh and bench/setup.sh: install the Debian packages that are missing,
# without letting any of them start its service on this machine (a policy-rc.d that exits 101
# for the duration, removed afterwards unless one was already there).
apt_install_missing() {
    local who=$1; shift
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$p")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    echo "$who: installing Debian packages: ${missing[*]}"
    local policy=/usr/sbin/policy-rc.d created=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        created=1
    fi
    local rc=0
    {
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"
    } >/dev/null || rc=$?
    [ "$created" = 1 ] && rm -f "$policy"
    return $rc
}
