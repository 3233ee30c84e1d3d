#!/bin/sh
# Builds a tiny guest for the node controller's boot test from Debian packages: the Debian
# cloud kernel and a busybox initramfs whose init prints boot markers on the serial console,
# reads the instance's config disk (a tar archive, see services/node/src/config_drive.rs) and
# prints the keypair's public key from it, then idles until the domain is destroyed.
#
# It then watches /sys/block and reports disks hot-plugged in (with the first bytes on them)
# and out, for the volume test.
#
# Usage: scripts/guest-image.sh CACHE_DIR
# Leaves CACHE_DIR/vmlinuz and CACHE_DIR/initramfs.gz; does nothing when they are already
# there from this version of the script (CACHE_DIR/version). Needs apt-get (package lists present: run `apt-get update` once), dpkg-deb, xz and
# gzip.
set -eu

cache=${1:?usage: guest-image.sh CACHE_DIR}
version=2
if [ -s "$cache/vmlinuz" ] && [ -s "$cache/initramfs.gz" ] &&
    [ "$(cat "$cache/version" 2>/dev/null)" = "$version" ]; then
    exit 0
fi
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # apt-get download runs as _apt, which must be able to write here

# The kernel package the cloud kernel metapackage currently points at.
kernel_pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n 1)
if [ -z "$kernel_pkg" ]; then
    echo "guest-image.sh: no linux-image-cloud-amd64 in the package lists (run apt-get update)" >&2
    exit 1
fi
(cd "$work" && apt-get -o APT::Sandbox::User=root download "$kernel_pkg" busybox-static >/dev/null)
dpkg-deb -x "$work"/linux-image-*.deb "$work/kernel"
dpkg-deb -x "$work"/busybox-static_*.deb "$work/busybox"

root="$work/root"
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/cfg" "$root/modules"
cp "$work/busybox/bin/busybox" "$root/bin/busybox"
# virtio block devices, to read the config disk; loaded in dependency order by init.
modules="virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk"
for module in $modules; do
    found=$(find "$work/kernel/lib/modules" -name "$module.ko*" | head -n 1)
    if [ -n "$found" ]; then
        case "$found" in
            *.xz) xz -dc "$found" > "$root/modules/$module.ko" ;;
            *) cp "$found" "$root/modules/$module.ko" ;;
        esac
    fi
done

cat > "$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "EUCA-GUEST-BOOTED $(uname -r)"
for module in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
    [ -f "/modules/$module.ko" ] && insmod "/modules/$module.ko" 2>/dev/null
done
sleep 1
for disk in /dev/vd?; do
    if tar -xf "$disk" -C /cfg openssh-key 2>/dev/null; then
        echo "EUCA-KEY: $(cat /cfg/openssh-key)"
    fi
done
echo "EUCA-GUEST-READY"
# Volumes: report each disk that comes (its size in sectors and first bytes) or goes.
known=" $(ls /sys/block | tr '\n' ' ') "
while true; do
    sleep 1
    now=" $(ls /sys/block | tr '\n' ' ') "
    for disk in $now; do
        case "$known" in *" $disk "*) continue ;; esac
        echo "EUCA-DISK-ADDED $disk $(cat "/sys/block/$disk/size")"
        echo "EUCA-DISK-DATA $disk $(head -c 24 "/dev/$disk" | tr -c 'A-Za-z0-9-' '.')"
    done
    for disk in $known; do
        case "$now" in *" $disk "*) continue ;; esac
        echo "EUCA-DISK-REMOVED $disk"
    done
    known=$now
done
EOF
chmod 755 "$root/init"

cp "$work"/kernel/boot/vmlinuz-* "$cache/vmlinuz.tmp"
(cd "$root" && find . | ./bin/busybox cpio -o -H newc > "$work/initramfs.cpio")
gzip -9 < "$work/initramfs.cpio" > "$cache/initramfs.gz.tmp"
mv "$cache/vmlinuz.tmp" "$cache/vmlinuz"
mv "$cache/initramfs.gz.tmp" "$cache/initramfs.gz"
echo "$version" > "$cache/version"
echo "guest-image.sh: $kernel_pkg and busybox in $cache"
