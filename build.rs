// Records, for `hardened --version`, the git commit (runc prints `commit: ...`) and the version
// of libcontainer that Cargo.lock resolved (so it cannot drift from the Cargo.toml pin).
fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=HARDENED_COMMIT={commit}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");

    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let lock = std::fs::read_to_string(std::path::Path::new(&dir).join("Cargo.lock"))
        .expect("read Cargo.lock");
    let libcontainer =
        locked_version(&lock, "libcontainer").expect("Cargo.lock has no libcontainer package");
    println!("cargo:rustc-env=HARDENED_LIBCONTAINER={libcontainer}");
    println!("cargo:rerun-if-changed=Cargo.lock");
}

/// The `version` of the `[[package]]` named `name` in a Cargo.lock.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = \"{name}\"");
    lock.split("[[package]]").find_map(|package| {
        let mut lines = package.lines().map(str::trim);
        lines.find(|l| *l == wanted)?;
        let version = lines.find_map(|l| l.strip_prefix("version = "))?;
        Some(version.trim_matches('"').to_string())
    })
}
