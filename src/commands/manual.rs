//! `hardened completion SHELL` and `hardened man DIR`: shell completion scripts and man pages,
//! both generated from the command-line definition (`cli.rs`), so they cannot drift from it.
//!
//! The man pages are written by the binary itself (a hidden command) rather than by `build.rs`
//! or an `xtask`: `cargo build` stays as fast as before (nothing generated at build time, no
//! second crate to compile), and a package build runs the binary it has just built, e.g.
//! `target/release/hardened man debian/tmp/usr/share/man/man8`, which documents exactly the
//! binary it ships. As runc does, one page per command, in section 8 (system administration):
//! `hardened.8`, `hardened-create.8`, ..., `hardened-install-docker.8`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::Cli;

/// The man page section: runc's pages are in section 8 as well.
pub const SECTION: &str = "8";

/// Print the completion script for `shell` on stdout.
pub fn completion(shell: clap_complete::Shell) -> Result<()> {
    // Into memory first: clap_complete panics when a write fails (`| head` closes the pipe).
    let mut script = Vec::new();
    clap_complete::generate(
        shell,
        &mut visible(&Cli::command()),
        "hardened",
        &mut script,
    );
    let mut out = std::io::stdout().lock();
    out.write_all(&script)
        .and_then(|()| out.flush())
        .context("write the completion script")
}

/// `cmd` without its hidden options and commands: clap_complete would offer them (the runc
/// flags that are accepted and ignored, the `man` command).
fn visible(cmd: &clap::Command) -> clap::Command {
    // clap takes a static name (without its `string` feature): one small string per command,
    // for a process that prints the script and exits.
    let name: &'static str = Box::leak(cmd.get_name().to_string().into_boxed_str());
    let mut v = clap::Command::new(name)
        .args(cmd.get_arguments().filter(|a| !a.is_hide_set()).cloned())
        .subcommands(
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(visible),
        );
    if let Some(about) = cmd.get_about() {
        v = v.about(about.clone());
    }
    v
}

/// Write one page per visible command into `dir` (created if missing); returns the files
/// written, `hardened.8` first.
pub fn man(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    // The help subcommand is clap's, not ours: no page for it.
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    write_pages(&cmd, None, dir, &mut written)?;
    Ok(written)
}

/// The page of `cmd`, then the pages of its visible subcommands.
fn write_pages(
    cmd: &clap::Command,
    parent: Option<&str>,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> Result<()> {
    let man = clap_mangen::Man::new(cmd.clone())
        .section(SECTION)
        .source(format!("hardened {}", env!("CARGO_PKG_VERSION")))
        .manual("System Administration");
    let path = dir.join(man.get_filename());
    let mut page = Vec::new();
    man.render(&mut page)
        .with_context(|| format!("render {}", path.display()))?;
    page.extend_from_slice(see_also(parent).as_bytes());
    std::fs::write(&path, page).with_context(|| format!("write {}", path.display()))?;
    written.push(path);
    let name = page_name(cmd);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, Some(&name), dir, written)?;
    }
    Ok(())
}

/// `hardened-create` for `hardened create` (clap's display name of a built subcommand).
fn page_name(cmd: &clap::Command) -> String {
    cmd.get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_string()
}

/// A SEE ALSO section: the parent page (and runc's) for a command, the policy documentation
/// for the top page.
fn see_also(parent: Option<&str>) -> String {
    let refs = match parent {
        None => vec!["\\fBrunc\\fR(8)".to_string()],
        Some("hardened") => vec![format!("\\fBhardened\\fR({SECTION})")],
        Some(p) => vec![
            format!("\\fB{p}\\fR({SECTION})"),
            format!("\\fBhardened\\fR({SECTION})"),
        ],
    };
    format!(
        ".SH \"SEE ALSO\"\n{}\n.PP\nThe policy file and its rules: docs/policy.md in hardened's \
         documentation (/usr/share/doc/hardened when installed from a package).\n",
        refs.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every visible command and subcommand of the CLI, as page names.
    fn commands(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let name = format!("{prefix}-{}", sub.get_name());
            if sub.get_name() != "help" {
                out.push(name.clone());
            }
            commands(sub, &name, out);
        }
    }

    #[test]
    fn one_page_per_visible_command_in_section_8() {
        let dir = tempfile::tempdir().expect("tempdir");
        let written = man(dir.path()).expect("man");
        let mut want = vec!["hardened".to_string()];
        commands(&Cli::command(), "hardened", &mut want);
        let got: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        let want: Vec<String> = want.iter().map(|n| format!("{n}.8")).collect();
        assert_eq!(got, want);
        for name in [
            "hardened-create.8",
            "hardened-install-docker.8",
            "hardened-completion.8",
        ] {
            assert!(got.iter().any(|g| g == name), "{name} missing: {got:?}");
        }
        assert!(!got.iter().any(|g| g == "hardened-man.8"), "{got:?}");
        let create = std::fs::read_to_string(dir.path().join("hardened-create.8")).unwrap();
        assert!(create.starts_with(".ie"), "{create}");
        assert!(create.contains(".TH hardened-create 8"), "{create}");
        assert!(create.contains("console\\-socket"), "{create}");
        // A command's page lists its own options, not the global ones (as runc's pages).
        assert!(!create.contains("systemd\\-cgroup"), "{create}");
        assert!(create.contains("\\fBhardened\\fR(8)"), "{create}");
        let top = std::fs::read_to_string(dir.path().join("hardened.8")).unwrap();
        assert!(top.contains("systemd\\-cgroup"), "{top}");
        assert!(top.contains("hardened\\-create(8)"), "{top}");
    }
}
