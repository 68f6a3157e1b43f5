// TEMPORARY placeholder while the real module is written in parallel; replaced before commit.
use oci_spec::runtime::LinuxSeccomp;
pub fn default_profile() -> LinuxSeccomp {
    LinuxSeccomp::default()
}
pub fn merge_baseline(c: &LinuxSeccomp) -> (LinuxSeccomp, Vec<String>) {
    (c.clone(), vec![])
}
pub fn is_unconfined(_s: &LinuxSeccomp) -> bool {
    false
}
