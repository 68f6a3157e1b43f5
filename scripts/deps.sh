#!/usr/bin/env bash
# Install, from Debian, whatever building and testing `hardened` needs and is missing.
#   scripts/deps.sh [build|test]   (default: test)
set -euo pipefail
want=${1:-test}
# protobuf-compiler: the CRI test's gRPC client (k8s-cri) is generated at build time with protoc.
# libelf-dev, zlib1g-dev, make: libbpf-sys (libcgroups' cgroup v2 device controller, feature
# cgroupsv2_devices) builds its vendored libbpf with make and links libelf and zlib.
pkgs=(libseccomp-dev pkg-config busybox-static jq file gcc libc6-dev protobuf-compiler libelf-dev zlib1g-dev make)
if [ "$want" = test ]; then
  # containernetworking-plugins: the loopback CNI plugin of the CRI test containerd.
  # debootstrap: the root filesystem of the workload suite (scripts/workload-images.sh).
  # podman: integration/podman.rs (rootful, its storage in a temp dir).
  # man-db (man, groff): the generated man pages are rendered in integration/cli.rs.
  # dpkg-dev (dpkg-shlibdeps), make, lintian: the Debian package and make install
  # (scripts/package.sh, integration/package.rs; cargo-deb itself comes from crates.io there).
  # qemu-system-x86, e2fsprogs (mkfs.ext4 -d, debugfs): the guest stage (scripts/guest.sh), a
  # Debian 12 guest with cgroup v2 and AppArmor, its root filesystem also made with debootstrap.
  pkgs+=(docker.io containerd runc procps python3-yaml util-linux containernetworking-plugins debootstrap podman man-db)
  pkgs+=(dpkg-dev make lintian)
  pkgs+=(qemu-system-x86 e2fsprogs)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing Debian packages: ${missing[*]} (run as root, or: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "deps.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
