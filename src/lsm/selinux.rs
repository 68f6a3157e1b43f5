//! SELinux: the config's `process.selinuxLabel`, applied by the executor inside the container
//! just before `execve` (as runc's `SetExecLabel`): the label is written to
//! `/proc/thread-self/attr/exec`, so the program starts in it. libcontainer 0.7 does not apply it
//! (its builder has a `process_label` it never uses: "youki does not support selinux yet"); it
//! applies only `linux.mountLabel`, as a `context=` mount option where `/sys/fs/selinux` exists.
//!
//! Where SELinux is off (no selinuxfs) a label is ignored, as runc ignores it. Not tested on an
//! SELinux host (docs/policy.md).

use std::io::Write;

use oci_spec::runtime::Spec;

/// SELinux is enabled on this host (selinuxfs is mounted, as libselinux's `is_selinux_enabled`
/// reads it).
pub fn host_enabled() -> bool {
    std::path::Path::new("/sys/fs/selinux/enforce").exists()
}

/// Apply the label of `spec`'s process to the program the next `execve` starts.
pub fn set_exec_label(spec: &Spec) -> Result<(), String> {
    let Some(label) = spec
        .process()
        .as_ref()
        .and_then(|p| p.selinux_label().as_deref())
        .filter(|l| !l.is_empty())
    else {
        return Ok(());
    };
    if !host_enabled() {
        return Ok(());
    }
    let path = "/proc/thread-self/attr/exec";
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(label.as_bytes()))
        .map_err(|e| {
            format!(
                "apply the SELinux label {} (process.selinuxLabel) through {path}: {e}",
                crate::oneline::value(label)
            )
        })
}
