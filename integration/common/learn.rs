//! The learn-adopt-probe script of the learn-mode tests (docs/learn.md), the same through
//! `hardened run` (integration/learn.rs), Docker (learn.rs), containerd's shim
//! (integration/containerd.rs) and podman (integration/podman.rs): learn an entrypoint, check
//! the profile learned from it, then run the entrypoint and probes of what it did not use under
//! the adopted profile.

use super::Out;

/// What the learn run does: an entrypoint that makes its data directory, chowns it to its
/// service user and writes there (as postgres's or nginx's do).
pub const ENTRYPOINT: &str = "mkdir -p /var/cache/app && chown 33:33 /var/cache/app && echo data > /var/cache/app/f && cat /var/cache/app/f && echo entrypoint-ok";

/// The entrypoint, then probes of what it did not use: a raw socket (NET_RAW, socket(2);
/// `rawsock-probe` is built into the busybox rootfs by scripts/mkbundle.sh), a write to `/etc`
/// (the read-only root), and the first line of its uid_map (its own user namespace).
pub fn probe_script() -> String {
    format!(
        "{ENTRYPOINT}; /usr/bin/rawsock-probe; echo x > /etc/probe && echo etc-written; \
         head -n1 /proc/self/uid_map"
    )
}

/// The profile `name` learned from [`ENTRYPOINT`] (its `NAME.toml`): only the capabilities
/// used, CHOWN for the chown and DAC_OVERRIDE for root writing into a directory it no longer
/// owns; the directory written as a scratch mount; the read-only root.
pub fn assert_learned(toml: &str, name: &str) {
    assert!(toml.contains(&format!("[profiles.{name}]")), "{toml}");
    assert!(
        toml.contains("allow_capabilities = [\"CHOWN\", \"DAC_OVERRIDE\"]"),
        "only the capabilities used: {toml}"
    );
    assert!(
        toml.contains("\"/var/cache/app\""),
        "the directory written: {toml}"
    );
    assert!(toml.contains("readonly_rootfs = true"), "{toml}");
}

/// The output of [`probe_script`] under the adopted profile: the entrypoint ran, and what it did
/// not use stayed refused.
pub fn assert_adopted_probe(out: &Out) {
    assert!(
        out.ok() && out.stdout.contains("entrypoint-ok"),
        "runs under what it learned: {out:?}"
    );
    assert!(
        out.stdout.contains("rawsock: ") && !out.stdout.contains("rawsock: ok"),
        "no raw socket: {out:?}"
    );
    assert!(
        !out.stdout.contains("etc-written"),
        "read-only root: {out:?}"
    );
    let map: Vec<&str> = out
        .stdout
        .lines()
        .rev()
        .find(|l| l.split_whitespace().count() == 3)
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default();
    assert!(
        map.len() == 3 && map[0] == "0" && map[1] != "0",
        "a user namespace of its own (container root is not host root): {out:?}"
    );
}
