//! `features`: the runtime-spec features document (features.md), describing what this binary
//! really implements. `apparmor.enabled` and `selinux.enabled` say whether this host has the
//! module (a profile or label is applied only there); the annotation `io.hardened.apparmor`
//! names the profile a container that names none gets, or says AppArmor is not available.

use std::collections::HashMap;

use anyhow::Result;
use serde_json::{json, Value};

/// Annotations this runtime reads from a container's config.
pub const READ_ANNOTATIONS: &[&str] = &[crate::policy::PROFILE_ANNOTATION];

pub fn document() -> Value {
    let caps: Vec<String> = {
        let mut v: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
        v.sort();
        v
    };
    let mut annotations: HashMap<&str, String> = HashMap::new();
    annotations.insert(
        "io.github.seccomp.libseccomp.version",
        super::version::libseccomp_version(),
    );
    annotations.insert("org.opencontainers.runc.checkpoint.enabled", "false".into());
    annotations.insert(
        "io.hardened.libcontainer.version",
        super::version::LIBCONTAINER.into(),
    );
    // What a container that names no AppArmor profile runs under with the built-in policy.
    annotations.insert(
        "io.hardened.apparmor",
        crate::lsm::apparmor::applied(
            Some(crate::lsm::apparmor::DEFAULT_PROFILE),
            crate::lsm::apparmor::host_enabled(),
        ),
    );
    if !READ_ANNOTATIONS.is_empty() {
        annotations.insert("io.hardened.annotations", READ_ANNOTATIONS.join(","));
    }
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": oci_spec::runtime::VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": libcontainer::syscall::linux::MountOption::known_options(),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {
                "v1": true,
                "v2": true,
                "systemd": true,
                "systemdUser": true,
                "rdma": false
            },
            "seccomp": {
                "enabled": true,
                "actions": [
                    "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE",
                    "SCMP_ACT_TRAP"
                ],
                "operators": [
                    "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                    "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"
                ],
                "archs": [
                    "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",
                    "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
                    "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PARISC",
                    "SCMP_ARCH_PARISC64", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE",
                    "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_SH",
                    "SCMP_ARCH_SHEB", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"
                ],
                "knownFlags": [
                    "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                    "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
                ],
                "supportedFlags": [
                    "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                    "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
                ]
            },
            "apparmor": { "enabled": crate::lsm::apparmor::host_enabled() },
            "selinux": { "enabled": crate::lsm::selinux::host_enabled() },
            "intelRdt": { "enabled": true },
            "mountExtensions": { "idmap": { "enabled": true } }
        },
        "annotations": annotations
    })
}

pub fn features() -> Result<()> {
    println!("{}", serde_json::to_string_pretty(&document())?);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn features_parse_as_the_runtime_spec_type() {
        let doc = super::document();
        let parsed: oci_spec::runtime::Features =
            serde_json::from_value(doc.clone()).expect("valid features document");
        assert_eq!(parsed.oci_version_min(), "1.0.0");
        let ns = doc["linux"]["namespaces"].as_array().unwrap();
        assert!(ns.iter().any(|n| n == "user"));
        assert_eq!(
            doc["linux"]["mountExtensions"]["idmap"]["enabled"],
            serde_json::Value::Bool(true)
        );
        // AppArmor and SELinux as this host has them.
        assert_eq!(
            doc["linux"]["apparmor"]["enabled"],
            crate::lsm::apparmor::host_enabled()
        );
        assert_eq!(
            doc["linux"]["selinux"]["enabled"],
            crate::lsm::selinux::host_enabled()
        );
        assert!(doc["linux"]["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "CAP_SYS_ADMIN"));
    }
}
