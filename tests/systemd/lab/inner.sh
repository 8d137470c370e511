#!/bin/bash
# inner.sh NAME STATE NETNS CGROUPS -- boot one isolated systemd "server" (tests/systemd/sdlab.py).
#
# Runs as the child of `unshare --mount --propagation private --fork`, i.e. in a PRIVATE mount
# namespace: every mount made here vanishes with the last process of the server, even after
# SIGKILL. Technique and safety rules: shared/lab/sysd/README.md. systemd must never see the
# machine's real /, /tmp, /run or /var:
#   * the server's root is overlay(lower = the machine's / never written, upper = STATE/upper);
#     the upper dir is on disk under STATE so a powered-off server boots again with its state
#     (installed package, config, enabled units, journal), like a real machine;
#   * tmpfs over /run and /tmp of this namespace before anything else runs (nspawn's scratch
#     files and libmount's utab land there, not on the machine);
#   * systemd-nspawn gives the server its own PID/UTS/IPC/cgroup namespaces, read-only /sys and
#     /proc/sys (except net.*), a minimal /dev, and runs it in the pre-made netns NETNS.
#   NAME    server name ([a-z0-9-], hostname)      STATE  its state dir (absolute, ours)
#   NETNS   /run/netns/... file of its netns        CGROUPS colon-separated cgroup dirs to join
#   env SDLAB_NSPAWN_EXTRA: extra nspawn flags (e.g. --bind-ro=DIR:/mnt/carpd-dist)
set -euo pipefail
NAME=$1 S=$2 NETNS=$3 CGROUPS=$4
R=$S/root
die() { echo "inner: $*" >&2; exit 1; }
[[ $NAME =~ ^[a-z0-9][a-z0-9-]{0,14}$ ]] || die "bad name $NAME"
[[ $S == /var/tmp/carpd-sdlab/* ]] || die "state dir $S is not under /var/tmp/carpd-sdlab"

# 0. we must be in a mount namespace different from PID 1's (the machine's)
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] || die "not in a private mount namespace"
mount --make-rprivate /

# 1. keep a handle on the netns file, then hide the machine's /run and /tmp (mount -n: no utab)
mkdir -p "$S/rt" "$S/upper" "$S/work" "$R"
mount -n -t tmpfs -o mode=0755,size=1M "cdsrt-$NAME" "$S/rt"
touch "$S/rt/netns"
mount -n --bind "$NETNS" "$S/rt/netns"
mount -n -t tmpfs -o mode=0755,size=64M "cdsrun-$NAME" /run
mount -n -t tmpfs -o mode=1777,size=64M "cdstmp-$NAME" /tmp
[ "$(findmnt -n -o FSTYPE --mountpoint /tmp)" = tmpfs ] || die "/tmp is not a private tmpfs"
[ "$(findmnt -n -o FSTYPE --mountpoint /run)" = tmpfs ] || die "/run is not a private tmpfs"

# 2. overlay: lower = the machine's / (never written), upper/work under STATE
mount -n -t overlay -o "lowerdir=/,upperdir=$S/upper,workdir=$S/work" "cdsroot-$NAME" "$R"
[ "$(findmnt -n -o FSTYPE --mountpoint "$R")" = overlay ] || die "overlay not mounted on $R"

# 3. first boot only: make it a machine of its own (all writes land in the upper dir)
if [ ! -e "$S/customized" ]; then
    [ "$(findmnt -n -o FSTYPE --mountpoint "$R")" = overlay ] || die "overlay vanished"
    echo "$NAME" > "$R/etc/hostname"
    sed -i "/[[:space:]]$NAME\$/d" "$R/etc/hosts"; echo "127.0.1.1 $NAME" >> "$R/etc/hosts"
    tr -d '-' < /proc/sys/kernel/random/uuid > "$R/etc/machine-id"
    # nothing the machine has enabled (databases, keepalived, timers, getty, SysV scripts)
    find "$R/etc/systemd/system" -mindepth 2 -maxdepth 2 -path '*.wants/*' -delete
    rm -f "$R/etc/systemd/system/default.target"
    mkdir -p "$R/etc/systemd/system-generators"
    ln -sfn /dev/null "$R/etc/systemd/system-generators/systemd-sysv-generator"
    for u in console-getty.service systemd-tmpfiles-clean.timer apt-daily.timer \
             apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer; do
        ln -sfn /dev/null "$R/etc/systemd/system/$u"
    done
    mkdir -p "$R/etc/systemd/journald.conf.d"
    printf '[Journal]\nStorage=persistent\nSystemMaxUse=32M\n' > "$R/etc/systemd/journald.conf.d/sdlab.conf"
    # a container-image policy-rc.d (exit 101) would stop maintainer scripts from touching
    # services; a real server has none
    rm -f "$R/usr/sbin/policy-rc.d"
    # dpkg inside the server must not try to reach any network or prompt
    mkdir -p "$R/etc/apt/apt.conf.d"
    printf 'Acquire::Retries "0";\nAcquire::http::Timeout "1";\n' > "$R/etc/apt/apt.conf.d/99sdlab"
    touch "$S/customized"
fi

# 4. join our cgroups so the harness finds (and only ever kills) this server's processes
IFS=: read -ra dirs <<< "$CGROUPS"
for d in "${dirs[@]}"; do mkdir -p "$d"; echo $$ > "$d/cgroup.procs"; done

# 5. boot; `systemctl reboot` inside makes nspawn exit 133: boot again, same overlay
export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=${SYSTEMD_NSPAWN_UNIFIED_HIERARCHY:-1}
while :; do
    rc=0
    # shellcheck disable=SC2086
    systemd-nspawn --directory="$R" --boot --machine="$NAME" --hostname="$NAME" \
        --register=no --keep-unit \
        --network-namespace-path="$S/rt/netns" --private-network \
        --link-journal=no --resolv-conf=off --timezone=off --console=read-only \
        --kill-signal=SIGRTMIN+4 ${SDLAB_NSPAWN_EXTRA:-} || rc=$?
    [ "$rc" = 133 ] || exit "$rc"
    echo "inner: $NAME rebooting"
done
