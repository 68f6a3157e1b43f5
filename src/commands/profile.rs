//! `hardened profile list|show NAME|diff NAME [OTHER]`: the profiles learn mode wrote into the
//! policy's `learn_dir` (`crate::learn_format`), for the operator's review before adopting one
//! (copying it into a directory of `profile_dirs`).
//!
//! A learned profile is read exactly as a file of `profile_dirs` is
//! (`policy::load::read_profile_file`): the policy's `[defaults]` with the keys it sets
//! replaced, its seccomp file beside it. So `diff` compares what the container would get once
//! the profile is adopted, not just the file's lines.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};

use crate::cli::ProfileCmd;
use crate::learn_format::{self, Evidence};
use crate::policy::{Policy, Rules};

pub fn profile(policy: &Policy, cmd: &ProfileCmd) -> Result<i32> {
    let text = match cmd {
        ProfileCmd::List => list(policy)?,
        ProfileCmd::Show { name } => show(policy, name)?,
        ProfileCmd::Diff { name, other } => diff(policy, name, other.as_deref())?,
    };
    print!("{text}");
    Ok(0)
}

/// One learned profile, read from the learn_dir.
struct Learned {
    name: String,
    /// `NAME.toml`.
    file: PathBuf,
    /// Its text, as written.
    text: String,
    /// What a container selecting it would get: the defaults with its keys replaced.
    rules: Rules,
    /// `NAME.learned.json`, or why it could not be read.
    evidence: Result<Evidence, String>,
}

/// The names of the learned profiles in `dir` (each `NAME.toml`), sorted; none when `dir` does
/// not exist yet.
fn learned_names(dir: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read the learn_dir {}", dir.display()))
        }
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".toml")?;
            (!stem.is_empty() && !stem.starts_with('.')).then(|| stem.to_string())
        })
        .collect();
    names.sort();
    Ok(names)
}

/// "a, b", or "none yet" (for messages).
fn listing(names: &[String]) -> String {
    if names.is_empty() {
        "none yet".into()
    } else {
        names.join(", ")
    }
}

/// Read learned profile `name` from the policy's learn_dir.
fn read_learned(policy: &Policy, name: &str) -> Result<Learned> {
    let dir = &policy.learn_dir;
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        bail!(
            "{} is not a profile name: give the NAME of NAME.toml in {} (hardened profile list shows them)",
            crate::oneline::value(name),
            dir.display()
        );
    }
    let file = learn_format::toml_file(dir, name);
    if !file.is_file() {
        bail!(
            "no learned profile {} in {} (learned: {}): `hardened profile list` shows them; a container run under a policy with mode = \"learn\" writes its profile there when it is deleted",
            crate::oneline::value(name),
            dir.display(),
            listing(&learned_names(dir)?)
        );
    }
    let role = format!(
        "a learned profile in the learn_dir of {}",
        policy.file_name()
    );
    let mut profiles = crate::policy::load::read_profile_file(&file, &policy.defaults, &role)
        .map_err(|e| anyhow::anyhow!("{e}: fix or remove it, or learn the profile again"))?;
    let Some(rules) = profiles.remove(name) else {
        let held: Vec<String> = profiles.keys().cloned().collect();
        bail!(
            "{} holds no [profiles.{name}] table (it holds: {}): a learned profile NAME.toml holds [profiles.NAME]; rename the file or the table",
            file.display(),
            listing(&held)
        );
    };
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let evidence =
        Evidence::read(&learn_format::evidence_file(dir, name)).map_err(|e| format!("{e:#}"));
    Ok(Learned {
        name: name.to_string(),
        file,
        text,
        rules,
        evidence,
    })
}

/// `profile list`.
fn list(policy: &Policy) -> Result<String> {
    let dir = &policy.learn_dir;
    let names = learned_names(dir)?;
    if names.is_empty() {
        return Ok(format!(
            "no learned profiles in {} (the learn_dir of {}): a container run under a policy with mode = \"learn\" writes its profile there when it is deleted\n",
            dir.display(),
            policy.file_name()
        ));
    }
    let head = [
        "NAME",
        "CONTAINER",
        "LEARNED",
        "CAPABILITIES",
        "SYSCALLS",
        "WRITABLE",
    ]
    .map(String::from);
    let mut rows = vec![head];
    for name in &names {
        rows.push(match read_learned(policy, name) {
            Ok(l) => list_row(policy, &l),
            Err(e) => [
                name.clone(),
                "-".into(),
                "-".into(),
                format!(
                    "unreadable: {}",
                    crate::oneline::line(&format!("{e:#}"), 200)
                ),
                String::new(),
                String::new(),
            ],
        });
    }
    Ok(table(&rows))
}

/// One line of `profile list`.
fn list_row(policy: &Policy, l: &Learned) -> [String; 6] {
    let (container, when) = match &l.evidence {
        Ok(e) => (
            e.container.chars().take(12).collect::<String>(),
            e.stopped.get(..16).unwrap_or(&e.stopped).replace('T', " "),
        ),
        Err(_) => (String::new(), String::new()),
    };
    let dash = |s: String| if s.is_empty() { "-".to_string() } else { s };
    let syscalls = match l.rules.seccomp_loaded.as_ref().map(|s| allowed(&s.0)) {
        Some(Allowed::Only(set)) => set.len().to_string(),
        Some(Allowed::AllBut(_)) => "all but some".into(),
        None => "(none)".into(),
    };
    let writable = if l.rules.readonly_rootfs {
        added(
            &paths(&l.rules.scratch_mounts),
            &paths(&policy.defaults.scratch_mounts),
        )
        .join(",")
    } else {
        "whole root".into()
    };
    [
        l.name.clone(),
        dash(container),
        dash(when),
        dash(l.rules.allow_capabilities.join(",")),
        syscalls,
        dash(writable),
    ]
}

/// Rows as aligned columns (the last one unpadded).
fn table(rows: &[[String; 6]]) -> String {
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..5).map(width).collect();
    let mut s = String::new();
    for r in rows {
        for (i, w) in widths.iter().enumerate() {
            s.push_str(&format!("{:w$}  ", r[i]));
        }
        s.push_str(&r[5]);
        s.push('\n');
    }
    s
}

/// `profile show NAME`: the file, then the evidence in words.
fn show(policy: &Policy, name: &str) -> Result<String> {
    let l = read_learned(policy, name)?;
    let mut s = format!("# {}\n{}", l.file.display(), l.text);
    if !l.text.ends_with('\n') {
        s.push('\n');
    }
    let seccomp = learn_format::seccomp_file(&policy.learn_dir, name);
    if let Some(sc) = &l.rules.seccomp_loaded {
        s.push_str(&format!(
            "\n# {}: {}\n",
            l.rules
                .seccomp_profile
                .as_deref()
                .unwrap_or(&seccomp)
                .display(),
            describe_seccomp(&sc.0)
        ));
    }
    s.push('\n');
    match &l.evidence {
        Ok(e) => s.push_str(&evidence_in_words(e)),
        Err(why) => s.push_str(&format!(
            "No evidence: {why}. The profile can still be reviewed line by line above.\n"
        )),
    }
    Ok(s)
}

/// "allows 63 system calls (SCMP_ARCH_X86_64), denies the rest (errno)".
fn describe_seccomp(sc: &LinuxSeccomp) -> String {
    let arches: Vec<String> = sc
        .architectures()
        .iter()
        .flatten()
        .map(|a| format!("{a:?}"))
        .collect();
    let on = if arches.is_empty() {
        String::new()
    } else {
        format!(" on {}", arches.join(", "))
    };
    match allowed(sc) {
        Allowed::Only(set) => format!(
            "allows {} system call(s){on}, and no other (the runtime's baseline denials are merged in when it is applied)",
            set.len()
        ),
        Allowed::AllBut(set) => format!(
            "allows every system call{on} but {} (the runtime's baseline denials are merged in when it is applied)",
            set.len()
        ),
    }
}

/// The evidence, for an operator who reads it once.
fn evidence_in_words(e: &Evidence) -> String {
    let mut s = String::from("What the container did while it learned (the evidence):\n");
    let or_unknown = |v: &str| {
        if v.is_empty() {
            "?".to_string()
        } else {
            v.to_string()
        }
    };
    s.push_str(&format!(
        "  container {}, from {} to {}\n",
        or_unknown(&e.container),
        or_unknown(&e.started),
        or_unknown(&e.stopped)
    ));
    if !e.programs.is_empty() {
        s.push_str(&format!("  programs run: {}\n", e.programs.join(", ")));
    }
    if e.capabilities.is_empty() {
        s.push_str("  capabilities: none was checked: the profile needs none\n");
    } else {
        s.push_str("  capabilities:\n");
        for c in &e.capabilities {
            s.push_str(&format!("    {}\n", capability_in_words(c)));
        }
    }
    for (arch, calls) in &e.syscalls {
        s.push_str(&format!(
            "  system calls on {arch} ({}): {}\n",
            calls.len(),
            wrap(&calls.join(", "), 90, "    ")
        ));
    }
    if e.written_paths.is_empty() {
        s.push_str(
            "  written outside the scratch mounts: nothing (the read-only root is enough)\n",
        );
    } else {
        s.push_str(&format!(
            "  written outside the scratch mounts (why scratch_mounts has more): {}\n",
            wrap(&e.written_paths.join(", "), 90, "    ")
        ));
    }
    if !e.user_switches.is_empty() {
        s.push_str(&format!(
            "  user and group switches (SETUID, SETGID): {}\n",
            e.user_switches.join("; ")
        ));
    }
    if !e.notes.is_empty() {
        s.push_str("  notes:\n");
        for n in &e.notes {
            s.push_str(&format!("    - {n}\n"));
        }
    }
    s
}

/// One capability's checks in words.
fn capability_in_words(c: &learn_format::CapabilityEvidence) -> String {
    let by = if c.processes.is_empty() {
        String::new()
    } else {
        format!(" by {}", c.processes.join(", "))
    };
    let granted = c.checks.saturating_sub(c.denied);
    if c.granted {
        let denied = if c.denied > 0 {
            format!(", {} denied", c.denied)
        } else {
            String::new()
        };
        format!(
            "{}: used{by} ({granted} check(s) granted{denied}): the profile allows it",
            c.cap
        )
    } else if c.denied > 0 {
        format!(
            "{}: asked for{by} and denied {} time(s): learn mode does not give it, so the profile leaves it out; if the program failed for it, add it to allow_capabilities",
            c.cap, c.denied
        )
    } else {
        format!(
            "{}: checked{by}, never granted: the profile leaves it out",
            c.cap
        )
    }
}

/// `text` broken after commas into lines of about `width`, continued with `indent`.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = 0;
    for (i, word) in text.split(", ").enumerate() {
        if i > 0 {
            out.push(',');
            if line + word.len() + 2 > width {
                out.push('\n');
                out.push_str(indent);
                line = indent.len();
            } else {
                out.push(' ');
                line += 1;
            }
        }
        out.push_str(word);
        line += word.len() + 1;
    }
    out
}

/// What a seccomp profile allows.
#[derive(Debug, PartialEq, Eq)]
enum Allowed {
    /// A default-deny profile: these names are allowed (for some arguments at least).
    Only(BTreeSet<String>),
    /// A default-allow profile: everything but these names (denied for any arguments).
    AllBut(BTreeSet<String>),
}

fn allows(a: LinuxSeccompAction) -> bool {
    matches!(
        a,
        LinuxSeccompAction::ScmpActAllow | LinuxSeccompAction::ScmpActLog
    )
}

fn allowed(sc: &LinuxSeccomp) -> Allowed {
    let rules = sc.syscalls().as_deref().unwrap_or(&[]);
    if allows(sc.default_action()) {
        Allowed::AllBut(
            rules
                .iter()
                .filter(|r| !allows(r.action()) && r.args().as_ref().is_none_or(|a| a.is_empty()))
                .flat_map(|r| r.names().iter().cloned())
                .collect(),
        )
    } else {
        Allowed::Only(
            rules
                .iter()
                .filter(|r| allows(r.action()))
                .flat_map(|r| r.names().iter().cloned())
                .collect(),
        )
    }
}

/// What a container selecting a profile would run under: the profile's own seccomp (baseline
/// merged in), or, without one, the built-in default profile (what a container that brings
/// none gets; Docker brings its own).
fn effective_seccomp(rules: &Rules) -> (LinuxSeccomp, String) {
    match (&rules.seccomp_loaded, &rules.seccomp_profile) {
        (Some(own), file) => (
            crate::seccomp::merge_baseline(&own.0).0,
            file.as_deref()
                .map(|f| format!("{} (baseline merged in)", f.display()))
                .unwrap_or_else(|| "its seccomp_profile".into()),
        ),
        (None, _) => (
            crate::seccomp::default_profile(),
            "the built-in default profile".into(),
        ),
    }
}

fn paths(v: &[PathBuf]) -> Vec<String> {
    v.iter().map(|p| p.display().to_string()).collect()
}

/// What `a` has that `b` has not, in `a`'s order.
fn added(a: &[String], b: &[String]) -> Vec<String> {
    a.iter().filter(|x| !b.contains(x)).cloned().collect()
}

/// Capability names as the policy compares them (no `CAP_`, upper case).
fn caps(v: &[String]) -> Vec<String> {
    let mut c: Vec<String> = v
        .iter()
        .map(|c| c.trim().trim_start_matches("CAP_").to_ascii_uppercase())
        .collect();
    c.sort();
    c.dedup();
    c
}

/// `profile diff NAME [OTHER]`.
fn diff(policy: &Policy, name: &str, other: Option<&str>) -> Result<String> {
    let l = read_learned(policy, name)?;
    let (base, base_label) = match other {
        None => (
            policy.defaults.clone(),
            format!("the policy's [defaults] ({})", policy.file_name()),
        ),
        Some(o) => match policy.profiles.get(o) {
            Some(r) => {
                let from = policy
                    .profile_sources
                    .get(o)
                    .map(|s| s.describe(&policy.file_name()))
                    .unwrap_or_else(|| policy.file_name());
                (r.clone(), format!("profile {o} of the policy, from {from}"))
            }
            None => {
                let names = learned_names(&policy.learn_dir)?;
                if !names.iter().any(|n| n == o) {
                    bail!(
                        "no profile {} in the policy {} (defined: {}) and no learned profile of that name in {} (learned: {})",
                        crate::oneline::value(o),
                        policy.file_name(),
                        policy.profile_names().unwrap_or_else(|| "none".into()),
                        policy.learn_dir.display(),
                        listing(&names)
                    );
                }
                let other = read_learned(policy, o)?;
                (
                    other.rules,
                    format!("learned profile {o} ({})", other.file.display()),
                )
            }
        },
    };
    Ok(compare(&l, &base, &base_label))
}

/// What learned profile `l` grants beyond `base` (and what it no longer grants).
fn compare(l: &Learned, base: &Rules, base_label: &str) -> String {
    let mut s = format!(
        "learned profile {} ({}) compared with {base_label}:\n",
        l.name,
        l.file.display()
    );
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            wrap(&v.join(", "), 90, "      ")
        }
    };
    let (mine, theirs) = (
        caps(&l.rules.allow_capabilities),
        caps(&base.allow_capabilities),
    );
    s.push_str(&format!(
        "  capabilities added:   {}\n",
        list(&added(&mine, &theirs))
    ));
    s.push_str(&format!(
        "  capabilities removed: {}\n",
        list(&added(&theirs, &mine))
    ));
    match (l.rules.readonly_rootfs, base.readonly_rootfs) {
        (false, true) => s.push_str(
            "  readonly_rootfs: false (was true): the whole root filesystem is writable\n",
        ),
        (true, false) => s.push_str("  readonly_rootfs: true (was false): the root is read-only\n"),
        (r, _) => s.push_str(&format!("  readonly_rootfs: {r}, unchanged\n")),
    }
    let (mine, theirs) = (paths(&l.rules.scratch_mounts), paths(&base.scratch_mounts));
    s.push_str(&format!(
        "  writable (scratch_mounts) added:   {}\n",
        list(&added(&mine, &theirs))
    ));
    s.push_str(&format!(
        "  writable (scratch_mounts) removed: {}\n",
        list(&added(&theirs, &mine))
    ));
    let (mine, mine_label) = effective_seccomp(&l.rules);
    let (theirs, theirs_label) = effective_seccomp(base);
    s.push_str(&format!(
        "  system calls: {mine_label} compared with {theirs_label}\n"
    ));
    match (allowed(&mine), allowed(&theirs)) {
        (Allowed::Only(a), Allowed::Only(b)) => {
            let more: Vec<String> = a.difference(&b).cloned().collect();
            let fewer: Vec<String> = b.difference(&a).cloned().collect();
            s.push_str(&format!("    added ({}):   {}\n", more.len(), list(&more)));
            s.push_str(&format!(
                "    removed ({}): {}\n",
                fewer.len(),
                at_most(&fewer, list)
            ));
        }
        (Allowed::AllBut(a), Allowed::AllBut(b)) => {
            let more: Vec<String> = b.difference(&a).cloned().collect();
            let fewer: Vec<String> = a.difference(&b).cloned().collect();
            s.push_str(&format!(
                "    no longer denied ({}): {}\n",
                more.len(),
                list(&more)
            ));
            s.push_str(&format!(
                "    newly denied ({}):     {}\n",
                fewer.len(),
                at_most(&fewer, list)
            ));
        }
        (Allowed::AllBut(a), Allowed::Only(_)) => s.push_str(&format!(
            "    it allows every system call but {} (default allow): far more than the other\n",
            a.len()
        )),
        (Allowed::Only(a), Allowed::AllBut(_)) => s.push_str(&format!(
            "    it allows only {} system call(s), the other every one but a few (default allow)\n",
            a.len()
        )),
    }
    let others = other_keys(&l.rules, base);
    if !others.is_empty() {
        s.push_str("  other keys:\n");
        for line in others {
            s.push_str(&format!("    {line}\n"));
        }
    }
    s
}

/// `v` through `list` when it is short; else its first names and how many more (a learned
/// profile allows only what was seen: the default profile's other few hundred are no news).
fn at_most(v: &[String], list: impl Fn(&[String]) -> String) -> String {
    const SHOWN: usize = 24;
    if v.len() <= SHOWN {
        list(v)
    } else {
        format!("{}, and {} more", list(&v[..SHOWN]), v.len() - SHOWN)
    }
}

/// The keys other than those compared above whose values differ: "pids_limit = 512 (was 1024)".
fn other_keys(a: &Rules, b: &Rules) -> Vec<String> {
    const COMPARED: [&str; 4] = [
        "allow_capabilities",
        "readonly_rootfs",
        "scratch_mounts",
        "seccomp_profile",
    ];
    let table = |r: &Rules| match toml::Value::try_from(r) {
        Ok(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    };
    let (ta, tb) = (table(a), table(b));
    ta.iter()
        .filter(|(k, _)| !COMPARED.contains(&k.as_str()))
        .filter(|(k, v)| tb.get(*k) != Some(*v))
        .map(|(k, v)| {
            format!(
                "{k} = {v} (was {})",
                tb.get(k)
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "unset".into())
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECCOMP: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["read","write","exit_group","chown","ptrace"],"action":"SCMP_ACT_ALLOW"}]}"#;

    /// A policy in a temp dir whose learn_dir holds learned profile `web` (and `nothing`,
    /// without evidence); `extra` is appended to the policy file.
    fn setup(extra: &str) -> (tempfile::TempDir, Policy) {
        let d = tempfile::tempdir().expect("tempdir");
        let learn = d.path().join("learned");
        std::fs::create_dir(&learn).expect("mkdir");
        std::fs::write(
            learn.join("web.toml"),
            "# Learned by hardened 0.1.0 from container abc123, then to now.\n\
             [profiles.web]\n\
             allow_capabilities = [\"CHOWN\", \"SETUID\", \"SETGID\"]\n\
             readonly_rootfs = true\n\
             scratch_mounts = [\"/tmp\", \"/run\", \"/var/lib/nginx\"]\n\
             seccomp_profile = \"web.seccomp.json\"\n",
        )
        .expect("write");
        std::fs::write(learn.join("web.seccomp.json"), SECCOMP).expect("write");
        std::fs::write(
            learn.join("web.learned.json"),
            r#"{"name":"web","container":"abc123def4567890","started":"2026-12-04T12:00:00Z","stopped":"2026-12-04T12:05:00Z",
               "capabilities":[{"cap":"CHOWN","granted":true,"checks":3,"denied":0,"processes":["nginx"]},
                               {"cap":"NET_ADMIN","granted":false,"checks":2,"denied":2,"processes":["ip"]}],
               "syscalls":{"x86_64":["read","write","chown"]},"written_paths":["/var/lib/nginx/body"],
               "user_switches":["nginx: setgid(33)","nginx: setuid(33)"],"notes":["3 trace events were lost"]}"#,
        )
        .expect("write");
        std::fs::write(
            learn.join("nothing.toml"),
            "[profiles.nothing]\nallow_capabilities = []\n",
        )
        .expect("write");
        let file = d.path().join("policy.toml");
        let text = format!("learn_dir = {:?}\n{extra}", learn.display().to_string());
        std::fs::write(&file, &text).expect("write");
        let p = crate::policy::load::load_file(&file).expect("policy loads");
        (d, p)
    }

    fn err(r: Result<String>) -> String {
        match r {
            Ok(s) => panic!("no error: {s}"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn list_shows_one_line_per_learned_profile() {
        let (_d, p) = setup("");
        let out = list(&p).expect("list");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(lines[0].starts_with("NAME"), "{out}");
        assert!(lines[1].starts_with("nothing"), "{out}");
        let web = lines[2];
        for want in [
            "web",
            "abc123def456",
            "2026-12-04 12:05",
            "CHOWN,SETUID,SETGID",
            " 5 ",
            "/var/lib/nginx",
        ] {
            assert!(web.contains(want), "{want:?} in {web:?}");
        }
        assert!(
            !web.contains("abc123def4567"),
            "container id shortened: {web}"
        );
    }

    #[test]
    fn list_of_a_missing_learn_dir_says_so() {
        let p = Policy {
            learn_dir: PathBuf::from("/nonexistent/learned"),
            ..Policy::default()
        };
        let out = list(&p).expect("list");
        assert!(
            out.contains("no learned profiles in /nonexistent/learned")
                && out.contains("mode = \"learn\""),
            "{out}"
        );
    }

    #[test]
    fn show_prints_the_toml_then_the_evidence_in_words() {
        let (_d, p) = setup("");
        let out = show(&p, "web").expect("show");
        assert!(out.contains("[profiles.web]\nallow_capabilities"), "{out}");
        for want in [
            "allows 5 system call(s)",
            "container abc123def4567890, from 2026-12-04T12:00:00Z",
            "CHOWN: used by nginx (3 check(s) granted): the profile allows it",
            "NET_ADMIN: asked for by ip and denied 2 time(s)",
            "system calls on x86_64 (3): read, write, chown",
            "/var/lib/nginx/body",
            "user and group switches (SETUID, SETGID): nginx: setgid(33); nginx: setuid(33)",
            "- 3 trace events were lost",
        ] {
            assert!(out.contains(want), "{want:?} in\n{out}");
        }
        let out = show(&p, "nothing").expect("show without evidence");
        assert!(
            out.contains("No evidence: cannot read the evidence"),
            "{out}"
        );
    }

    #[test]
    fn errors_name_the_file_and_the_fix() {
        let (d, p) = setup("");
        let e = err(show(&p, "x"));
        let learn = d.path().join("learned");
        assert!(
            e.contains(&format!(
                "no learned profile \"x\" in {} (learned: nothing, web)",
                learn.display()
            )),
            "{e}"
        );
        let e = err(show(&p, "../policy"));
        assert!(e.contains("is not a profile name"), "{e}");
        let e = err(diff(&p, "web", Some("nope")));
        assert!(
            e.contains("no profile \"nope\" in the policy")
                && e.contains("(learned: nothing, web)"),
            "{e}"
        );
        // A learned TOML whose seccomp file went missing: the key and the file.
        std::fs::remove_file(learn.join("web.seccomp.json")).expect("rm");
        let e = err(diff(&p, "web", None));
        assert!(
            e.contains("web.toml")
                && e.contains("seccomp_profile")
                && e.contains("web.seccomp.json"),
            "{e}"
        );
        // A file holding another profile's table.
        std::fs::write(learn.join("nothing.toml"), "[profiles.other]\n").expect("write");
        let e = err(show(&p, "nothing"));
        assert!(
            e.contains("holds no [profiles.nothing] table (it holds: other)"),
            "{e}"
        );
    }

    #[test]
    fn diff_against_the_defaults() {
        let (_d, p) = setup("[defaults]\npids_limit = 100\n");
        let out = diff(&p, "web", None).expect("diff");
        for want in [
            "compared with the policy's [defaults]",
            "capabilities added:   CHOWN, SETGID, SETUID\n",
            "capabilities removed: none\n",
            "readonly_rootfs: true, unchanged",
            "writable (scratch_mounts) added:   /var/lib/nginx\n",
            "compared with the built-in default profile",
        ] {
            assert!(out.contains(want), "{want:?} in\n{out}");
        }
        // ptrace is denied by the baseline: the learned profile cannot add it.
        let added_line = out
            .lines()
            .find(|l| l.trim_start().starts_with("added ("))
            .expect("added line");
        assert!(!added_line.contains("ptrace"), "{out}");
        assert!(out.contains("removed ("), "{out}");
        // It inherits [defaults]: pids_limit is no difference.
        assert!(!out.contains("pids_limit"), "{out}");
    }

    #[test]
    fn diff_against_a_policy_profile_and_another_learned_one() {
        let (_d, p) = setup(
            "builtin_profiles = [\"drop-to-user\"]\n[profiles.wide]\nreadonly_rootfs = false\npids_limit = 9\n",
        );
        let out = diff(&p, "web", Some("drop-to-user")).expect("diff");
        assert!(
            out.contains("profile drop-to-user of the policy, from built-in"),
            "{out}"
        );
        assert!(out.contains("capabilities added:   CHOWN\n"), "{out}");
        let out = diff(&p, "web", Some("wide")).expect("diff");
        assert!(out.contains("readonly_rootfs: true (was false)"), "{out}");
        assert!(out.contains("pids_limit = 1024 (was 9)"), "{out}");
        let out = diff(&p, "web", Some("nothing")).expect("diff");
        assert!(out.contains("learned profile nothing ("), "{out}");
        assert!(
            out.contains("its seccomp_profile")
                || out.contains("web.seccomp.json (baseline merged in)"),
            "{out}"
        );
    }

    #[test]
    fn allowed_sets() {
        let sc: LinuxSeccomp = serde_json::from_str(SECCOMP).expect("json");
        assert_eq!(
            allowed(&sc),
            Allowed::Only(
                ["chown", "exit_group", "ptrace", "read", "write"]
                    .map(String::from)
                    .into()
            )
        );
        let deny: LinuxSeccomp = serde_json::from_str(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ptrace"],"action":"SCMP_ACT_ERRNO"}]}"#,
        )
        .expect("json");
        assert_eq!(
            allowed(&deny),
            Allowed::AllBut(["ptrace".to_string()].into())
        );
        assert_eq!(wrap("a, b, c", 4, "  "), "a,\n  b,\n  c");
    }
}
