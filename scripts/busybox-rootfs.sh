#!/usr/bin/env bash
# busybox-rootfs.sh DIR: make DIR a minimal root file system from Debian's
# busybox-static (/bin/busybox with one symlink per applet). The benchmark
# and the integration tests build theirs with it.
set -euo pipefail
dir=${1:?usage: busybox-rootfs.sh DIR}
mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,var,run}
chmod 1777 "$dir/tmp"
cp /bin/busybox "$dir/bin/busybox"
for applet in $(/bin/busybox --list); do
	[ "$applet" = busybox ] || ln -sf busybox "$dir/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dir/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
echo busybox >"$dir/etc/hostname"
