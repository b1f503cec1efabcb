#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Prepare the kernel test tier: fetch Debian's kernel image package (the one
# linux-image-amd64 depends on) into a cache, keep its vmlinuz and the
# device-mapper and virtio modules with their load order, and build the base
# initramfs (busybox, dmsetup and its libraries, the modules, /init, the
# static pattern tool and, when built, a static thinsnap).
#
#   setup.sh CACHE OUT PATTERN [STATIC_THINSNAP]
#
# On success OUT holds vmlinuz and base.cpio.  On failure it prints one line,
# the reason, on stdout and exits 1 (the runner turns it into a skip).
set -u
cache=$1 out=$2 pattern=$3 thinsnap=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
MODULES="dm-mod dm-bufio dm-persistent-data dm-bio-prison dm-thin-pool
dm-snapshot libcrc32c crc32c_generic virtio_ring virtio virtio_pci
virtio_pci_legacy_dev virtio_pci_modern_dev virtio_blk"

reason() {
	echo "$*"
	exit 1
}

# The kernel package linux-image-amd64 depends on, e.g. linux-image-6.1.0-56-amd64.
kernel_package() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -1
}

fetch_kernel() {
	local pkg=$1 tmp=$cache/tmp ver
	rm -rf "$tmp" && mkdir -p "$tmp" || reason "cannot create $tmp"
	(cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1) ||
		reason "cannot download $pkg (apt-get download)"
	dpkg -x "$tmp"/"$pkg"_*.deb "$tmp/root" || reason "cannot extract $pkg"
	ver=${pkg#linux-image-}
	depmod -b "$tmp/root" "$ver" || reason "depmod failed on $pkg"
	rm -rf "$cache/$pkg" && mkdir -p "$cache/$pkg/modules"
	cp "$tmp/root/boot/vmlinuz-$ver" "$cache/$pkg/vmlinuz" || reason "no vmlinuz in $pkg"
	# Resolve dependencies in load order with the extracted modules.dep.
	local m line ko
	for m in $MODULES; do
		modprobe -d "$tmp/root" -S "$ver" --show-depends "$m" ||
			reason "module $m missing from $pkg"
	done | while read -r line; do
		case $line in insmod\ *) ;; *) continue ;; esac
		ko=$(echo "$line" | awk '{print $2}')
		base=$(basename "$ko")
		if ! grep -qx "$base" "$cache/$pkg/modules.order" 2>/dev/null; then
			cp "$ko" "$cache/$pkg/modules/" && echo "$base" >>"$cache/$pkg/modules.order"
		fi
	done
	[ -s "$cache/$pkg/modules.order" ] || reason "no modules resolved from $pkg"
	rm -rf "$tmp"
}

for tool in "${QEMU:-qemu-system-x86_64}" dmsetup cpio apt-get dpkg depmod modprobe; do
	command -v "$tool" >/dev/null 2>&1 ||
		reason "$tool is not installed (scripts/install-deps.sh)"
done
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' ||
	reason "busybox-static is not installed (scripts/install-deps.sh)"

mkdir -p "$cache" "$out" || reason "cannot create $cache"
pkg=$(kernel_package)
if [ -z "$pkg" ]; then
	# Offline: use whatever kernel the cache already holds.
	pkg=$(cd "$cache" && ls -d linux-image-* 2>/dev/null | tail -1)
	[ -n "$pkg" ] || reason "cannot find the kernel package (apt-cache depends linux-image-amd64)"
fi
[ -s "$cache/$pkg/modules.order" ] && [ -s "$cache/$pkg/vmlinuz" ] || fetch_kernel "$pkg"
cp "$cache/$pkg/vmlinuz" "$out/vmlinuz"
echo "$pkg" >"$out/kernel-package"

# Base initramfs.
root=$out/initramfs
rm -rf "$root" && mkdir -p "$root"/{bin,sbin,usr/sbin,proc,sys,dev,out,modules,tmp}
cp /bin/busybox "$root/bin/busybox"
cp /usr/sbin/dmsetup "$root/usr/sbin/dmsetup"
for lib in $(ldd /usr/sbin/dmsetup | grep -o '/[^ ]*'); do
	mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib"
done
cp "$cache/$pkg/modules/"* "$root/modules/"
cp "$cache/$pkg/modules.order" "$root/modules.order"
cp "$pattern" "$root/bin/pattern"
if [ -n "$thinsnap" ] && [ -x "$thinsnap" ]; then
	cp "$thinsnap" "$root/sbin/thinsnap"
	for t in thin_check thin_dump snap_check snap_dump snap_merge_offline; do ln -s thinsnap "$root/sbin/$t"; done
fi
cp "$here/guest/init" "$root/init" && chmod 755 "$root/init"
cp "$here/guest/lib.sh" "$root/lib.sh"
(cd "$root" && find . | cpio -o -H newc --quiet >"$out/base.cpio") ||
	reason "cpio failed"
exit 0
