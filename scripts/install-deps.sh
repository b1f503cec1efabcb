#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Install the Debian packages thinsnap needs to build and test.  As root it
# installs them; otherwise it prints the command to run.
set -e
PKGS="build-essential clang pkg-config libexpat1-dev libzstd-dev libxml2-utils
libcmocka-dev bats thin-provisioning-tools time strace
qemu-system-x86 busybox-static dmsetup cpio kmod file"
if [ "$(id -u)" -ne 0 ]; then
	echo "Run as root:"
	echo "  apt-get update && apt-get install -y --no-install-recommends" $PKGS
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
