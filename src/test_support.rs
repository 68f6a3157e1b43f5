//! Helpers of the unit tests.

/// Whether a unit test that needs root can run. As root it runs; elsewhere it is skipped with a
/// note on stderr (a developer's `cargo test` as a user), except under CI (`CI=true`), where a
/// skipped test would hide a failure: there it fails.
pub fn root_or_skip(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test} needs root, and CI=true: run the tests as root (scripts/test.sh)"
    );
    eprintln!("{test}: skipped, it needs root");
    false
}
