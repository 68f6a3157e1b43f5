pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const COMMIT: &str = env!("HARDENED_COMMIT");
/// The libcontainer version Cargo.lock resolved (build.rs), not a copy of the pin.
pub const LIBCONTAINER: &str = env!("HARDENED_LIBCONTAINER");

pub fn libseccomp_version() -> String {
    match libseccomp::ScmpVersion::current() {
        Ok(v) => format!("{}.{}.{}", v.major, v.minor, v.micro),
        Err(_) => "unknown".into(),
    }
}

/// runc's format: `runc version X`, `commit: ...`, `spec: ...`, `go: ...`, `libseccomp: ...`.
pub fn text() -> String {
    format!(
        "hardened version {VERSION}\ncommit: {COMMIT}\nspec: {}\nlibcontainer: {LIBCONTAINER}\nlibseccomp: {}\n",
        oci_spec::runtime::VERSION,
        libseccomp_version()
    )
}
