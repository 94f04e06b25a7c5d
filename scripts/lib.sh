# Shared by the scripts: messages and installing missing Debian packages.

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# ensure_packages CHECK:PACKAGE ... — CHECK is a command name or a file path;
# the packages whose check fails are installed with apt-get (as root).
ensure_packages() {
    local missing=() spec check pkg
    for spec in "$@"; do
        check=${spec%%:*} pkg=${spec#*:}
        if [[ $check == /* ]]; then
            [ -e "$check" ] && continue
        else
            command -v "$check" >/dev/null 2>&1 && continue
        fi
        missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        die "missing packages: ${missing[*]} (install them, or run as root)"
    fi
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Packages with a service (redis-server) must not start it: the tests
    # start their own. policy-rc.d answers 101 ("forbidden") to
    # invoke-rc.d while it exists; one already there is left alone.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
        own_policy=1
    fi
    local ok=1
    apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null || ok=0
    [ "$own_policy" = 0 ] || rm -f "$policy"
    [ "$ok" = 1 ] || die "apt-get install ${missing[*]} failed"
}

# What building muxd needs on a fresh Debian: CMake, make, a C compiler and
# the C library's headers and start files (libc6-dev is only a Recommends of
# gcc, so --no-install-recommends leaves it out).
BUILD_PACKAGES=(cmake:cmake make:make cc:gcc /usr/include/stdio.h:libc6-dev)
