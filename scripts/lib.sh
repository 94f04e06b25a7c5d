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
    apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
}

# What building muxd needs on a fresh Debian: CMake, make, a C compiler and
# the C library's headers and start files (libc6-dev is only a Recommends of
# gcc, so --no-install-recommends leaves it out).
BUILD_PACKAGES=(cmake:cmake make:make cc:gcc /usr/include/stdio.h:libc6-dev)
