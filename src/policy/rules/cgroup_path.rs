//! `cgroup-path`: the container's cgroup is a cgroup of its own, below the root of every
//! hierarchy, and below the parents the operator allows.
//!
//! This rule protects the host, not the container: it refuses in every policy mode (enforce,
//! audit and permissive alike). A container whose `linux.cgroupsPath` resolves to a hierarchy
//! root would have the host's root cgroups as its own: every "kill all of the container" (a
//! forced delete, `kill --all`, the clean-up of a failed create) would then reach every process
//! of the machine. A path that climbs with `..` is refused too, whatever it resolves to: it says
//! one thing and means another.
//!
//! Two spellings exist (runtime-spec `config-linux.md`, "Cgroups path"):
//! - cgroupfs: a path, absolute (below the hierarchy roots) or relative; `//`, `/./` and
//!   trailing slashes are the same path; libcontainer puts a container without one at
//!   `/:youki:<id>`.
//! - systemd (`--systemd-cgroup`): `slice:prefix:name`, the unit `prefix-name.scope` in `slice`.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use super::{Ctx, Out, Rule, RuleId};

pub const RULE: Rule = Rule {
    id: RuleId::CgroupPath,
    evaluate,
};

/// The policy key that lists the allowed parents (top level of the policy file).
pub const KEY: &str = "allowed_cgroup_parents";

/// Longest cgroupsPath accepted (PATH_MAX); a path component is at most NAME_MAX bytes.
const MAX_LEN: usize = 4096;
const MAX_COMPONENT: usize = 255;

/// A cgroupsPath that passed the rule, in its normal form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupPath {
    /// cgroupfs: the components below the hierarchy root (never empty, no `.` or `..`).
    Fs(Vec<String>),
    /// systemd: the slice (`""` is the root slice `-.slice`), prefix and name.
    Systemd {
        slice: String,
        prefix: String,
        name: String,
    },
}

impl CgroupPath {
    /// The cgroupfs path below the hierarchy root, as `/a/b`.
    pub fn fs_path(&self) -> Option<PathBuf> {
        match self {
            CgroupPath::Fs(parts) => Some(PathBuf::from(format!("/{}", parts.join("/")))),
            CgroupPath::Systemd { .. } => None,
        }
    }
}

/// Why a cgroupsPath is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("linux.cgroupsPath {0} resolves to the root of the cgroup hierarchy: the container would share the host's root cgroup, and stopping it would signal every process of the host")]
    Root(String),
    #[error("linux.cgroupsPath {0} is empty: the container would share the runtime's own cgroup (its caller's processes)")]
    Empty(String),
    #[error(
        "linux.cgroupsPath {0} climbs with \"..\": give the container's cgroup as a plain path"
    )]
    DotDot(String),
    #[error("linux.cgroupsPath {0} is too long ({1} bytes; at most {MAX_LEN}, and {MAX_COMPONENT} per component)")]
    TooLong(String, usize),
    #[error("linux.cgroupsPath {0} has a NUL byte")]
    Nul(String),
    #[error("linux.cgroupsPath {0} is not a systemd cgroup (\"slice:prefix:name\", the slice empty or ending in .slice, prefix and name without '/', the name not empty), as --systemd-cgroup requires")]
    Systemd(String),
    #[error("linux.cgroupsPath {0} is outside the allowed cgroup parents ({1})")]
    Outside(String, String),
}

/// A user-given value in a message: quoted, and cut when long (a 10 MiB path is not echoed).
fn shown(raw: &str) -> String {
    const MAX: usize = 64;
    if raw.len() <= MAX {
        return format!("{raw:?}");
    }
    let mut end = MAX;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}... ({} bytes)", &raw[..end], raw.len())
}

/// Normalise a cgroupsPath as the runtime will use it (`None`: libcontainer's default, a
/// cgroup named after the container at the top of each hierarchy) and check it.
pub fn normalize(raw: Option<&Path>, id: &str, systemd: bool) -> Result<CgroupPath, Problem> {
    let Some(raw) = raw else {
        return Ok(if systemd {
            CgroupPath::Systemd {
                slice: String::new(),
                prefix: "youki".into(),
                name: id.into(),
            }
        } else {
            CgroupPath::Fs(vec![format!(":youki:{id}")])
        });
    };
    let text = raw.to_string_lossy();
    if text.len() > MAX_LEN {
        return Err(Problem::TooLong(shown(&text), text.len()));
    }
    if text.contains('\0') {
        return Err(Problem::Nul(shown(&text)));
    }
    if systemd {
        return normalize_systemd(&text);
    }
    if text.is_empty() {
        return Err(Problem::Empty(shown(&text)));
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(Problem::DotDot(shown(&text))),
            p if p.len() > MAX_COMPONENT => return Err(Problem::TooLong(shown(&text), text.len())),
            p => parts.push(p.to_string()),
        }
    }
    if parts.is_empty() {
        return Err(Problem::Root(shown(&text)));
    }
    Ok(CgroupPath::Fs(parts))
}

fn normalize_systemd(text: &str) -> Result<CgroupPath, Problem> {
    let bad = || Problem::Systemd(shown(text));
    let fields: Vec<&str> = text.split(':').collect();
    // libcgroups takes `prefix:name` as `:prefix:name` (the slice then is system.slice).
    let (slice, prefix, name) = match fields[..] {
        [slice, prefix, name] => (slice, prefix, name),
        [prefix, name] => ("", prefix, name),
        _ => return Err(bad()),
    };
    let plain = |s: &str| !s.contains('/') && s != "." && s != "..";
    // A slice name: `-.slice` (the root slice) or dash-separated non-empty parts, `.slice`.
    let slice_ok = slice.is_empty()
        || slice == "-.slice"
        || slice
            .strip_suffix(".slice")
            .is_some_and(|stem| stem.split('-').all(|p| !p.is_empty() && plain(p)));
    if !slice_ok || !plain(slice) || !plain(prefix) || !plain(name) || name.is_empty() {
        return Err(bad());
    }
    Ok(CgroupPath::Systemd {
        slice: slice.into(),
        prefix: prefix.into(),
        name: name.into(),
    })
}

/// Whether `path` is strictly below one of `parents` (cgroupfs paths such as `/docker`, or
/// systemd slices such as `kubepods.slice`, which also admit their sub-slices such as
/// `kubepods-burstable.slice`). An empty list allows every parent.
pub fn below_allowed(path: &CgroupPath, parents: &[String]) -> bool {
    if parents.is_empty() {
        return true;
    }
    match path {
        CgroupPath::Fs(parts) => parents.iter().any(|p| {
            let want: Vec<&str> = p
                .split('/')
                .filter(|s| !s.is_empty() && *s != ".")
                .collect();
            !want.is_empty()
                && parts.len() > want.len()
                && parts.iter().zip(&want).all(|(a, b)| a == b)
        }),
        CgroupPath::Systemd { slice, .. } => parents.iter().any(|p| {
            // No slice is system.slice (libcgroups, for a runtime run as root).
            let slice = if slice.is_empty() {
                "system.slice"
            } else {
                slice.as_str()
            };
            let Some(stem) = p.strip_suffix(".slice") else {
                return false;
            };
            slice == p
                || slice
                    .strip_suffix(".slice")
                    .is_some_and(|s| s.starts_with(&format!("{stem}-")))
        }),
    }
}

/// The whole check: normal form, then the operator's parents.
pub fn check(
    raw: Option<&Path>,
    id: &str,
    systemd: bool,
    parents: &[String],
) -> Result<CgroupPath, Problem> {
    let path = normalize(raw, id, systemd)?;
    if !below_allowed(&path, parents) {
        let shown_path = match raw {
            Some(r) => shown(&r.to_string_lossy()),
            None => format!("(none: the default {:?})", display(&path)),
        };
        return Err(Problem::Outside(shown_path, parents.join(", ")));
    }
    Ok(path)
}

fn display(path: &CgroupPath) -> String {
    match path {
        CgroupPath::Fs(p) => format!("/{}", p.join("/")),
        CgroupPath::Systemd {
            slice,
            prefix,
            name,
        } => format!("{slice}:{prefix}:{name}"),
    }
}

fn evaluate(ctx: &Ctx, spec: &mut Spec, out: &mut Out) {
    let raw = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    if let Err(problem) = check(
        raw.as_deref(),
        ctx.container_id,
        ctx.systemd_cgroup,
        ctx.cgroup_parents,
    ) {
        let allow = match problem {
            Problem::Outside(..) => format!(
                "a parent of this path in {KEY} (top level) of {}",
                ctx.policy_file
            ),
            _ => "nothing: it protects the host in every mode; give the container a cgroup of its own (e.g. /hardened/<id>, or docker --cgroup-parent with a non-root parent)".to_string(),
        };
        out.refuse_in_every_mode(problem.to_string(), allow);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fs(raw: &str) -> Result<CgroupPath, Problem> {
        normalize(Some(Path::new(raw)), "c1", false)
    }

    #[test]
    fn hierarchy_roots_are_refused_however_spelled() {
        for raw in ["/", "//", "/.", "/./", "///.//", "."] {
            assert!(
                matches!(fs(raw), Err(Problem::Root(_))),
                "{raw}: {:?}",
                fs(raw)
            );
        }
        let long = "/".repeat(10 << 20);
        let err = fs(&long).expect_err("10 MiB of /");
        assert!(matches!(err, Problem::TooLong(..)), "{err:?}");
        assert!(err.to_string().len() < 300, "{err}");
        // Under the length limit, a long run of '/' is the root.
        assert!(matches!(fs(&"/".repeat(4000)), Err(Problem::Root(_))));
    }

    #[test]
    fn dot_dot_is_refused_wherever_it_is() {
        for raw in [
            "/..",
            "a/../..",
            "/docker/../..",
            "/docker/..",
            "../x",
            "/a/b/../c",
        ] {
            assert!(matches!(fs(raw), Err(Problem::DotDot(_))), "{raw}");
        }
    }

    #[test]
    fn empty_is_refused_and_none_is_the_default() {
        assert!(matches!(fs(""), Err(Problem::Empty(_))));
        assert_eq!(
            normalize(None, "c1", false),
            Ok(CgroupPath::Fs(vec![":youki:c1".into()]))
        );
    }

    #[test]
    fn ordinary_paths_are_normalised() {
        assert_eq!(
            fs("//docker///abc/"),
            Ok(CgroupPath::Fs(vec!["docker".into(), "abc".into()]))
        );
        assert_eq!(
            fs("x/./y"),
            Ok(CgroupPath::Fs(vec!["x".into(), "y".into()]))
        );
        assert_eq!(
            fs("/kubepods/burstable/pod1/c1").map(|p| p.fs_path()),
            Ok(Some(PathBuf::from("/kubepods/burstable/pod1/c1")))
        );
        // A ':' is an ordinary character for cgroupfs.
        assert!(fs("/a:b:c").is_ok());
    }

    #[test]
    fn long_components_and_nul_are_refused() {
        assert!(matches!(
            fs(&format!("/{}", "a".repeat(256))),
            Err(Problem::TooLong(..))
        ));
        assert!(fs(&format!("/{}", "a".repeat(255))).is_ok());
        assert!(matches!(fs("/a\0b"), Err(Problem::Nul(_))));
    }

    #[test]
    fn systemd_paths() {
        let sd = |raw: &str| normalize(Some(Path::new(raw)), "c1", true);
        assert!(sd("system.slice:docker:abc").is_ok());
        assert!(sd(":cri-containerd:abc").is_ok());
        assert!(sd("kubepods-burstable.slice:cri-containerd:abc").is_ok());
        assert!(sd("docker:abc").is_ok());
        for bad in [
            "",
            "/",
            "abc",
            "a:b:c:d",
            "system.slice:docker:",
            "system:docker:abc",
            "../x.slice:a:b",
            "system.slice:../..:abc",
            "system.slice:a:b/c",
            ".slice:a:b",
            "a-..-b.slice:p:n",
            "a--b.slice:p:n",
        ] {
            assert!(sd(bad).is_err(), "{bad:?} accepted");
        }
        assert!(sd("-.slice:p:n").is_ok());
        assert_eq!(
            normalize(None, "c1", true),
            Ok(CgroupPath::Systemd {
                slice: String::new(),
                prefix: "youki".into(),
                name: "c1".into()
            })
        );
    }

    #[test]
    fn allowed_parents() {
        let parents = vec!["/docker".to_string(), "kubepods".to_string()];
        let ok = |raw: &str| check(Some(Path::new(raw)), "c1", false, &parents);
        assert!(ok("/docker/abc").is_ok());
        assert!(ok("docker/abc").is_ok());
        assert!(ok("/kubepods/besteffort/pod/c").is_ok());
        // The parent itself is not a container's cgroup of its own; neither is a sibling.
        assert!(matches!(ok("/docker"), Err(Problem::Outside(..))));
        assert!(matches!(ok("/dockerx/abc"), Err(Problem::Outside(..))));
        assert!(matches!(ok("/system.slice/x"), Err(Problem::Outside(..))));
        assert!(matches!(
            check(None, "c1", false, &parents),
            Err(Problem::Outside(..))
        ));
        // Root and `..` are refused before the parents are looked at.
        assert!(matches!(ok("/docker/.."), Err(Problem::DotDot(_))));
        assert!(check(Some(Path::new("/")), "c1", false, &[]).is_err());

        let slices = vec!["kubepods.slice".to_string()];
        let sd = |raw: &str| check(Some(Path::new(raw)), "c1", true, &slices);
        assert!(sd("kubepods.slice:cri-containerd:abc").is_ok());
        assert!(sd("kubepods-burstable-pod1.slice:cri-containerd:abc").is_ok());
        assert!(sd("system.slice:docker:abc").is_err());
        assert!(sd("kubepodsx.slice:docker:abc").is_err());
        let system = vec!["system.slice".to_string()];
        assert!(check(Some(Path::new(":docker:abc")), "c1", true, &system).is_ok());
    }

    #[test]
    fn messages_are_one_short_line() {
        for raw in [
            "/",
            "",
            "/..",
            &"x".repeat(5000),
            &format!("/{}", "é".repeat(200)),
        ] {
            if let Err(e) = fs(raw) {
                let m = e.to_string();
                assert!(!m.contains('\n') && m.len() < 300, "{m}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Whatever the path, the rule never panics, and what it accepts is a cgroup strictly
        /// below the hierarchy root, named without `.`/`..`, that `//` and `/./` do not change.
        #[test]
        fn accepted_paths_are_below_the_root(raw in "[a-z/.:-]{0,40}") {
            if let Ok(CgroupPath::Fs(parts)) = normalize(Some(Path::new(&raw)), "c", false) {
                proptest::prop_assert!(!parts.is_empty());
                proptest::prop_assert!(parts.iter().all(|p| !p.is_empty() && p != "." && p != ".."));
                let spaced = raw.replace('/', "//./");
                proptest::prop_assert_eq!(
                    normalize(Some(Path::new(&spaced)), "c", false),
                    Ok(CgroupPath::Fs(parts))
                );
            }
            let _ = normalize(Some(Path::new(&raw)), "c", true);
        }

        /// A path made only of separators, `.` and `..` is always refused.
        #[test]
        fn roots_are_always_refused(parts in proptest::collection::vec("(|/|\\.|\\.\\.)", 0..30)) {
            let raw = parts.join("/");
            proptest::prop_assert!(normalize(Some(Path::new(&raw)), "c", false).is_err());
        }
    }
}
