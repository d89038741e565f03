#!/usr/bin/env bash
# Build the offline look-alike of Lambda's Python image as a root file system in DIR:
# Debian (minbase) + python3, awslambdaric and boto3 in /var/runtime, the Runtime Interface
# Emulator, Lambda's folders and user. Needs root (debootstrap, chroot) and network access to
# a Debian mirror and PyPI; no container registry. `labkit image build` runs it, then imports
# DIR as an image with the settings in rootfs.config.
#
#   usage: sudo sandbox/rootfs.sh DIR        (DIR must not exist or be empty)
#   env:   LABKIT_DEBIAN_MIRROR (default http://deb.debian.org/debian)
#          HOST_PYTHON          (a python3 with pip on the host, default python3)
set -euo pipefail

SUITE=bookworm
AWSLAMBDARIC_VERSION=4.2.2
BOTO3_VERSION=1.44.5
SAM_CLI_VERSION=1.170.0          # its wheel carries aws-lambda-rie-<arch>
SBX_USER=sbx_user1051            # Lambda's user name; uid/gid as Lambda's (993/990)
SBX_UID=993
SBX_GID=990
PACKAGES=python3,ca-certificates,tzdata,locales

MIRROR=${LABKIT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
HOST_PYTHON=${HOST_PYTHON:-python3}
HERE=$(cd "$(dirname "$0")" && pwd)

step() { echo "==> $*"; }
die() { echo "rootfs.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 DIR"
DEST=$1
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap and chroot): run it with sudo"
command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] || die "debootstrap is missing: apt-get install debootstrap"
PATH=$PATH:/usr/sbin:/sbin
if [ -e "$DEST" ] && [ -n "$(ls -A "$DEST")" ]; then die "$DEST is not empty"; fi

case "$(uname -m)" in
    x86_64) WHEEL_ARCH=x86_64; RIE_ARCH=x86_64 ;;
    aarch64 | arm64) WHEEL_ARCH=aarch64; RIE_ARCH=arm64 ;;
    *) die "unsupported machine $(uname -m): Lambda runs on x86_64 and arm64" ;;
esac

DOWNLOADS=$(mktemp -d "${DEST%/}.downloads.XXXXXX")
cleanup() {
    # debootstrap unmounts what it mounted; this catches what an interrupted run left behind.
    local mounted
    mounted=$(awk -v d="$(realpath -m "$DEST")/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r)
    for m in $mounted; do umount -l "$m" || true; done
    rm -rf "$DOWNLOADS"
}
trap cleanup EXIT

step "debootstrap $SUITE (minbase + $PACKAGES) from $MIRROR: about a minute"
mkdir -p "$DEST"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$DEST" "$MIRROR"

PY=$(chroot "$DEST" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
PYTAG=${PY/./}
GLIBC_MINOR=$(chroot "$DEST" /usr/bin/ldd --version 2>/dev/null | head -n1 | grep -oE '2\.[0-9]+$' | cut -d. -f2 || echo 17)
PLATFORMS=("--platform" "manylinux2014_$WHEEL_ARCH")     # wheels for glibc 2.17 up to the image's
for ((minor = 17; minor <= GLIBC_MINOR; minor++)); do PLATFORMS+=("--platform" "manylinux_2_${minor}_$WHEEL_ARCH"); done

step "awslambdaric $AWSLAMBDARIC_VERSION and boto3 $BOTO3_VERSION into /var/runtime (Python $PY, $WHEEL_ARCH)"
mkdir -p "$DEST/var/runtime"
"$HOST_PYTHON" -m pip install --quiet --disable-pip-version-check --no-compile \
    --target "$DEST/var/runtime" --only-binary=:all: \
    --python-version "$PY" --implementation cp --abi "cp$PYTAG" \
    "${PLATFORMS[@]}" \
    "awslambdaric==$AWSLAMBDARIC_VERSION" "boto3==$BOTO3_VERSION"
rm -rf "$DEST/var/runtime/bin"

step "aws-lambda-rie ($RIE_ARCH) from the aws-sam-cli $SAM_CLI_VERSION wheel"
"$HOST_PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps \
    -d "$DOWNLOADS" "aws-sam-cli==$SAM_CLI_VERSION"
"$HOST_PYTHON" - "$DOWNLOADS" "$RIE_ARCH" "$DEST/usr/local/bin/aws-lambda-rie" <<'PYEOF'
import pathlib, shutil, sys, zipfile
downloads, arch, target = sys.argv[1:]
wheel = next(pathlib.Path(downloads).glob("aws_sam_cli-*.whl"))
with zipfile.ZipFile(wheel) as archive, archive.open(f"samcli/local/rapid/aws-lambda-rie-{arch}") as src:
    with open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
PYEOF
chmod 755 "$DEST/usr/local/bin/aws-lambda-rie"

step "Lambda's layout: /var/task, /var/lang, /var/runtime/bootstrap, /opt, user $SBX_USER"
mkdir -p "$DEST/var/task" "$DEST/var/lang/bin" "$DEST/var/lang/lib" "$DEST/opt"
for name in python3 "python$PY" python; do ln -sf /usr/bin/python3 "$DEST/var/lang/bin/$name"; done
install -m 644 "$HERE/files/bootstrap.py" "$DEST/var/runtime/bootstrap.py"
install -m 755 "$HERE/files/lambda-entrypoint.sh" "$DEST/lambda-entrypoint.sh"
cat > "$DEST/var/runtime/bootstrap" <<SHEOF
#!/bin/sh
# Lambda's runtime bootstrap for Python $PY: run bootstrap.py, through AWS_LAMBDA_EXEC_WRAPPER if set.
export AWS_EXECUTION_ENV="\${AWS_EXECUTION_ENV:-AWS_Lambda_python$PY}"
if [ -n "\${AWS_LAMBDA_EXEC_WRAPPER:-}" ]; then
    exec "\$AWS_LAMBDA_EXEC_WRAPPER" /var/lang/bin/python$PY /var/runtime/bootstrap.py "\$@"
fi
exec /var/lang/bin/python$PY /var/runtime/bootstrap.py "\$@"
SHEOF
chmod 755 "$DEST/var/runtime/bootstrap"
grep -q "^$SBX_USER:" "$DEST/etc/group" || echo "$SBX_USER:x:$SBX_GID:" >> "$DEST/etc/group"
grep -q "^$SBX_USER:" "$DEST/etc/passwd" ||
    echo "$SBX_USER:x:$SBX_UID:$SBX_GID::/tmp:/usr/sbin/nologin" >> "$DEST/etc/passwd"
chmod 1777 "$DEST/tmp"

step "locale en_US.UTF-8, time zone UTC"
chroot "$DEST" localedef -i en_US -c -f UTF-8 en_US.UTF-8
ln -sf /usr/share/zoneinfo/Etc/UTC "$DEST/etc/localtime"
echo Etc/UTC > "$DEST/etc/timezone"

step "byte-compile /var/runtime (the root file system is read-only at run time)"
chroot "$DEST" python3 -m compileall -q /var/runtime

step "trim: apt caches and lists, documentation (copyright files kept), locale sources, logs"
rm -rf "$DEST"/var/cache/apt/* "$DEST"/var/lib/apt/lists/* "$DEST"/var/cache/debconf/*-old \
    "$DEST"/usr/share/man/* "$DEST"/usr/share/info/* "$DEST"/usr/share/i18n \
    "$DEST"/usr/share/lintian "$DEST"/usr/share/linda "$DEST"/var/log/*
find "$DEST/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
find "$DEST/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$DEST/usr/share/doc" -mindepth 1 -type d -empty -delete
find "$DEST/dev" -mindepth 1 -delete 2>/dev/null || true

step "root file system ready: $(du -sh --one-file-system "$DEST" | cut -f1) in $DEST"
