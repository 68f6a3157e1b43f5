// Records, for `hardened --version`, the git commit (runc prints `commit: ...`) and the version
// of libcontainer that Cargo.lock resolved (so it cannot drift from the Cargo.toml pin).
fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=HARDENED_COMMIT={commit}");
    // Rerun when the commit changes: HEAD, the branch it names and packed-refs, as git itself
    // locates them (in a worktree `.git` is a file and the branches live in the common dir,
    // which every worktree's commits touch, so not the whole refs/heads). A path that does not
    // exist would make cargo rerun this script, and rebuild the crate, on every command.
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    let watched = [
        git(&["rev-parse", "--git-path", "HEAD"]),
        branch.and_then(|b| git(&["rev-parse", "--git-path", &b])),
        git(&["rev-parse", "--git-path", "packed-refs"]),
    ];
    for path in watched.into_iter().flatten() {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }

    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let lock = std::fs::read_to_string(std::path::Path::new(&dir).join("Cargo.lock"))
        .expect("read Cargo.lock");
    let libcontainer =
        locked_version(&lock, "libcontainer").expect("Cargo.lock has no libcontainer package");
    println!("cargo:rustc-env=HARDENED_LIBCONTAINER={libcontainer}");
    println!("cargo:rerun-if-changed=Cargo.lock");
}

/// The trimmed output of `git ARGS`, if git ran and printed something.
fn git(args: &[&str]) -> Option<String> {
    std::process::Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
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
