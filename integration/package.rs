//! The Debian package (scripts/package.sh) and `make install`.
//!
//! - The shipped default policy (packaging/policy.toml, /etc/hardened/policy.toml in the
//!   package) is the built-in defaults, key for key.
//! - `make install` with PREFIX and DESTDIR installs the binary, the man pages, the completions
//!   and the policy example into a temporary directory; `make uninstall` removes them all.
//! - The package builds (lintian clean, with the overrides in packaging/lintian-overrides),
//!   installs with `dpkg -i` into a clean Debian 12 root (debootstrap minbase plus man-db,
//!   cached by packaging/test-root.sh under /var/cache/hardened-package-test), works there
//!   (run through chroot in a private mount namespace with its own /proc, gone when the command
//!   ends), never touches an engine's config, and `dpkg -r` / `dpkg -P` remove it cleanly. The
//!   package is never installed on the host running the test.
//!
//! The package test needs root, debootstrap and Debian's mirror; it never skips (a missing
//! prerequisite fails it with the fix).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{require_root, run, Out};
use hardened::policy::{self, Policy};

fn shipped_policy() -> PathBuf {
    common::repo_root().join("packaging/policy.toml")
}

/// The built-in defaults as `hardened policy show` prints them (after its header line).
fn defaults_as_shown() -> String {
    toml::to_string(&Policy::default()).expect("render the defaults")
}

#[test]
fn shipped_policy_is_the_builtin_defaults() {
    let path = shipped_policy();
    let text = std::fs::read_to_string(&path).expect("read packaging/policy.toml");
    // What the runtime makes of it: exactly the defaults.
    let parsed = policy::load::parse(&text, &path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        parsed,
        Policy {
            source: Some(path.clone()),
            ..Policy::default()
        },
        "packaging/policy.toml is not the built-in defaults: change the file (or the defaults) \
         so that they agree"
    );
    // And every key is written out, with its value: the file documents the whole policy, and a
    // new key in the code fails this test until the file shows it.
    let written: toml::Table = toml::from_str(&text).expect("TOML");
    let defaults: toml::Table = toml::from_str(&defaults_as_shown()).expect("TOML");
    assert_eq!(
        written, defaults,
        "packaging/policy.toml does not write out every key of the defaults"
    );
    // The binary agrees: `policy show` of the file is the defaults.
    let out = run(Command::new(common::hardened_bin())
        .arg("--policy")
        .arg(&path)
        .args(["policy", "show"]));
    assert!(out.ok(), "{out:?}");
    assert_eq!(without_header(&out.stdout), defaults_as_shown(), "{out:?}");
}

/// `policy show` without its first line (`# effective policy, from FILE`).
fn without_header(shown: &str) -> &str {
    shown.split_once('\n').map_or("", |(_, rest)| rest)
}

/// Every regular file and symlink below `dir`, relative to it, sorted.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    for _ in 0..100_000 {
        let Some(d) = todo.pop() else { break };
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let entry = entry.expect("dir entry");
            let ft = entry.file_type().expect("file type");
            if ft.is_dir() {
                todo.push(entry.path());
            } else {
                found.push(entry.path().strip_prefix(dir).expect("below").to_path_buf());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn make_install_and_uninstall_with_prefix_and_destdir() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dest = tmp.path().join("dest");
    let gen = tmp.path().join("generated");
    let make = |target: &str| {
        run(Command::new("timeout")
            .args(["600", "make", "--no-print-directory", "-C"])
            .arg(common::repo_root())
            .arg(target)
            .arg("PREFIX=/opt/hd")
            .arg(format!("DESTDIR={}", dest.display()))
            .arg(format!("BIN={}", common::hardened_bin().display()))
            .arg(format!("GEN={}", gen.display())))
    };
    let out = make("install");
    assert!(out.ok(), "make install: {out:?}");
    let root = dest.join("opt/hd");
    let files = files_below(&dest);
    // Nothing outside DESTDIR/PREFIX.
    for f in &files {
        assert!(
            f.starts_with("opt/hd"),
            "make install wrote {}",
            f.display()
        );
    }
    let bin = root.join("bin/hardened");
    assert_eq!(
        std::fs::metadata(&bin).expect("bin").permissions().mode() & 0o7777,
        0o755
    );
    let out = run(Command::new(&bin).arg("--version"));
    assert!(
        out.ok() && out.stdout.starts_with("hardened version "),
        "{out:?}"
    );
    // One page per command, as `hardened man` writes them, and they render.
    let mans: Vec<&PathBuf> = files
        .iter()
        .filter(|f| f.starts_with("opt/hd/share/man/man8"))
        .collect();
    assert!(mans.len() > 25, "{files:?}");
    for page in [
        "hardened.8",
        "hardened-create.8",
        "hardened-install-docker.8",
    ] {
        let path = root.join("share/man/man8").join(page);
        let out = run(Command::new("man")
            .arg("-l")
            .arg(&path)
            .env("MANWIDTH", "100")
            .env("PAGER", "cat"));
        assert!(
            out.ok() && out.stdout.contains("SYNOPSIS"),
            "{page}: {out:?}"
        );
    }
    // The completions load.
    let bash = root.join("share/bash-completion/completions/hardened");
    let out = run(Command::new("bash")
        .arg("-c")
        .arg(r#"source "$0" && complete -p hardened"#)
        .arg(&bash));
    assert!(
        out.ok() && out.stdout.contains("_hardened hardened"),
        "{out:?}"
    );
    let zsh = std::fs::read_to_string(root.join("share/zsh/site-functions/_hardened"));
    assert!(zsh.expect("zsh").starts_with("#compdef hardened"));
    let fish = std::fs::read_to_string(root.join("share/fish/vendor_completions.d/hardened.fish"));
    assert!(fish.expect("fish").contains("complete -c hardened"));
    // The policy example is the shipped default policy, and valid.
    let example = root.join("share/doc/hardened/examples/policy.toml");
    assert_eq!(
        std::fs::read(&example).expect("example"),
        std::fs::read(shipped_policy()).expect("shipped")
    );
    let out = run(Command::new(&bin)
        .args(["policy", "validate"])
        .arg(&example));
    assert!(out.ok(), "{out:?}");

    let out = make("uninstall");
    assert!(out.ok(), "make uninstall: {out:?}");
    assert_eq!(
        files_below(&dest),
        Vec::<PathBuf>::new(),
        "left by uninstall"
    );
}

/// A directory removed on drop with `rm -rf --one-file-system`, and only when nothing is
/// mounted below it (then it is left, and said so: better a leak than a removal through a
/// mount).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let prefix = format!("{}/", self.0.display());
        if mountinfo
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .any(|m| m.starts_with(&prefix))
        {
            eprintln!("{}: something is mounted below it, left", self.0.display());
            return;
        }
        common::quiet(
            Command::new("rm")
                .args(["-rf", "--one-file-system", "--"])
                .arg(&self.0),
        );
    }
}

/// `args` run inside `root` with chroot, in a private mount namespace with its own /proc (the
/// namespace and its mount end with the command), with a clean environment.
fn in_root(root: &Path, args: &[&str]) -> Out {
    run(Command::new("timeout")
        .args([
            "300",
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
        ])
        .args(["sh", "-c"])
        .arg(
            r#"r=$0; mount -t proc proc "$r/proc" || exit 125
exec chroot "$r" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb \
  MANPAGER=cat PAGER=cat MANWIDTH=100 DEBIAN_FRONTEND=noninteractive "$@""#,
        )
        .arg(root)
        .args(args))
}

fn must(root: &Path, args: &[&str]) -> Out {
    let out = in_root(root, args);
    assert!(out.ok(), "in the clean root: {args:?}: {out:?}");
    out
}

#[test]
fn deb_installs_works_and_purges_in_a_clean_debian_12_root() {
    require_root();
    let repo = common::repo_root();
    // The package holds target/release/hardened: the binary under test must be that one.
    let bin = common::hardened_bin();
    assert_eq!(
        bin.canonicalize().ok(),
        repo.join("target/release/hardened").canonicalize().ok(),
        "the package test packages target/release/hardened: run it with cargo test --release \
         (scripts/test.sh) and without HARDENED_BIN pointing elsewhere"
    );
    let tmp = tempfile::Builder::new()
        .prefix("hardened-package-")
        .tempdir()
        .expect("tempdir")
        .keep();
    let _scratch = Scratch(tmp.clone());

    // Build the package (lintian runs in package.sh and fails it on errors and warnings).
    let out = run(Command::new("timeout")
        .arg("2400")
        .arg(repo.join("scripts/package.sh"))
        .args(["--no-build", "--output"])
        .arg(tmp.join("deb")));
    assert!(out.ok(), "scripts/package.sh: {out:?}");
    let deb = PathBuf::from(out.stdout.lines().last().expect("the .deb's path"));
    let name = deb
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        name.starts_with(&format!("hardened_{version}-1_")),
        "{name}"
    );
    let out = run(Command::new("dpkg-deb")
        .args(["-f"])
        .arg(&deb)
        .arg("Depends"));
    assert!(
        out.ok() && out.stdout.contains("libseccomp2") && out.stdout.contains("libc6"),
        "Depends, from what the binary links: {out:?}"
    );

    // A clean Debian 12 root (cached tarball), unpacked afresh.
    let out = run(Command::new("timeout")
        .arg("3600")
        .arg(repo.join("packaging/test-root.sh")));
    assert!(
        out.ok(),
        "packaging/test-root.sh (debootstrap; needs root, debootstrap and Debian's mirror): \
         {out:?}"
    );
    let tarball = out.stdout.lines().last().expect("tarball").to_string();
    let root = tmp.join("root");
    std::fs::create_dir(&root).expect("mkdir root");
    let out = run(Command::new("timeout")
        .args([
            "600",
            "tar",
            "--numeric-owner",
            "--xattrs",
            "-xpf",
            &tarball,
            "-C",
        ])
        .arg(&root));
    assert!(out.ok(), "unpack {tarball}: {out:?}");
    assert!(
        !root.join("usr/bin/hardened").exists(),
        "the clean root is not clean"
    );
    std::fs::copy(&deb, root.join("tmp").join(&name)).expect("copy the .deb");

    // Install. The postinst prints the engine commands and edits no engine config.
    let out = must(&root, &["dpkg", "-i", &format!("/tmp/{name}")]);
    for cmd in [
        "hardened install docker",
        "hardened install containerd",
        "hardened install podman",
    ] {
        assert!(out.stdout.contains(cmd), "postinst: {cmd}: {out:?}");
    }
    for config in [
        "etc/docker",
        "etc/containerd",
        "etc/containers/containers.conf.d/hardened.conf",
    ] {
        assert!(!root.join(config).exists(), "the package wrote {config}");
    }

    let out = must(&root, &["hardened", "--version"]);
    assert!(
        out.stdout
            .starts_with(&format!("hardened version {version}\n")),
        "{out:?}"
    );

    // `man hardened` renders from the package's gzipped pages (the clean root's man-db).
    let out = must(&root, &["man", "hardened"]);
    assert!(
        out.stdout.contains("SYNOPSIS") && out.stdout.contains("hardened-create(8)"),
        "{out:?}"
    );
    let out = must(&root, &["man", "8", "hardened-install-docker"]);
    assert!(out.stdout.contains("daemon.json"), "{out:?}");
    let out = must(&root, &["dpkg", "-L", "hardened"]);
    let listed: Vec<&str> = out.stdout.lines().collect();
    for f in [
        "/usr/bin/hardened",
        "/usr/share/man/man8/hardened.8.gz",
        "/usr/share/man/man8/hardened-policy-validate.8.gz",
        "/usr/share/bash-completion/completions/hardened",
        "/usr/share/zsh/vendor-completions/_hardened",
        "/usr/share/fish/vendor_completions.d/hardened.fish",
        "/usr/share/doc/hardened/copyright",
        "/usr/share/doc/hardened/README.md",
        "/usr/share/doc/hardened/SECURITY.md",
        "/usr/share/doc/hardened/changelog.gz",
        "/usr/share/doc/hardened/policy.md",
        "/etc/hardened/policy.toml",
        "/etc/logrotate.d/hardened",
    ] {
        assert!(listed.contains(&f), "{f} not in the package: {out:?}");
    }

    // The bash completion loads (bash is in every Debian root).
    let out = must(
        &root,
        &[
            "bash",
            "-c",
            "source /usr/share/bash-completion/completions/hardened; complete -p hardened",
        ],
    );
    assert!(out.stdout.contains("_hardened hardened"), "{out:?}");

    // The conffile: listed as one, valid, and the built-in defaults.
    let out = must(
        &root,
        &["dpkg-query", "-W", "-f=${Conffiles}\n", "hardened"],
    );
    assert!(out.stdout.contains("/etc/hardened/policy.toml"), "{out:?}");
    let out = must(
        &root,
        &[
            "hardened",
            "policy",
            "validate",
            "/etc/hardened/policy.toml",
        ],
    );
    assert!(out.stdout.contains("valid"), "{out:?}");
    let out = must(&root, &["hardened", "policy", "show"]);
    assert!(
        out.stdout
            .starts_with("# effective policy, from /etc/hardened/policy.toml\n"),
        "{out:?}"
    );
    assert_eq!(without_header(&out.stdout), defaults_as_shown());

    // The audit log directory, root's only, as the runtime makes it.
    let logdir = root.join("var/log/hardened");
    let mode = std::fs::metadata(&logdir)
        .expect("/var/log/hardened")
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o700, "/var/log/hardened");

    // `hardened doctor` reports this root: the packaged policy in force, and no engine here
    // (a clean root has none installed), so nothing to register. Its exit status depends on the
    // host's kernel (a fail is possible), so the report itself is checked.
    let out = in_root(&root, &["hardened", "doctor", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor --format json in the clean root: {e}: {out:?}"));
    let by_check = |name: &str| -> serde_json::Value {
        report
            .as_array()
            .and_then(|a| a.iter().find(|c| c["check"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("doctor has no {name} line: {out:?}"))
    };
    let policy = by_check("policy");
    assert_eq!(policy["status"], "ok", "{out:?}");
    assert!(
        policy["detail"]
            .as_str()
            .is_some_and(|d| d.contains("/etc/hardened/policy.toml")),
        "{out:?}"
    );
    for engine in ["docker", "containerd", "podman"] {
        let c = by_check(engine);
        assert!(
            c["status"] == "ok"
                && c["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("not installed")),
            "{engine} in a clean root: {c}"
        );
    }

    // Remove: the binary goes, the conffile and the audit log stay.
    std::fs::write(logdir.join("audit.log"), "{}\n").expect("a log record");
    must(&root, &["dpkg", "-r", "hardened"]);
    assert!(!root.join("usr/bin/hardened").exists());
    assert!(!root.join("usr/share/man/man8/hardened.8.gz").exists());
    assert!(
        root.join("etc/hardened/policy.toml").exists(),
        "conffile removed by -r"
    );
    assert!(logdir.join("audit.log").exists(), "audit log removed by -r");
    // Purge: nothing of the package is left.
    must(&root, &["dpkg", "-P", "hardened"]);
    for path in listed.iter().map(|p| p.trim_start_matches('/')) {
        let p = root.join(path);
        let shared = p.is_dir() && std::fs::read_dir(&p).is_ok_and(|mut d| d.next().is_some());
        assert!(!p.exists() || shared, "left after purge: /{path}");
    }
    for gone in ["etc/hardened", "var/log/hardened", "usr/share/doc/hardened"] {
        assert!(!root.join(gone).exists(), "left after purge: /{gone}");
    }
    let out = in_root(&root, &["dpkg-query", "-W", "hardened"]);
    assert!(!out.ok(), "still known to dpkg after purge: {out:?}");
}
