//! The runtime handler in containerd's `config.toml`, for the CRI plugin (Kubernetes):
//!
//! ```toml
//! [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hardened]        # version = 2
//!   runtime_type = "io.containerd.runc.v2"
//!   pod_annotations = ["io.hardened.*"]
//!   [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hardened.options]
//!     BinaryName = "/usr/local/bin/hardened"
//! ```
//!
//! (`version = 3`, containerd 2.x: `[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.hardened]`.)
//!
//! The file is edited with `toml_edit`: comments, order, quoting and indentation of everything
//! else stay as they were, and the new section copies the indentation of its sibling runtimes,
//! so that `uninstall` after `install` gives back the original bytes.
//!
//! Which format, from the file:
//! - `version = 2` (containerd 1.x; containerd 2.x reads it too) and `version = 3` (containerd
//!   2.x) are edited as such; `version = 1` is refused (containerd 1.x looks plugins up by short
//!   IDs there, and containerd 2.x no longer reads it);
//! - no `version` at all: containerd reads such a file as version 1, so a file that configures
//!   plugins (`[plugins...]`, `disabled_plugins`, `required_plugins`) is refused, because a
//!   version-2 section added to it would be silently ignored. A missing file, an empty one, or
//!   one without plugin settings (e.g. only `root = ...`) gets a `version` line: 3 when
//!   `containerd --version` reports 2.x, else 2 (which every containerd from 1.3 on reads).
//!
//! The runc v2 shim takes only `options` (`BinaryName`, `Root`, `SystemdCgroup`, `NoPivotRoot`,
//! `NoNewKeyring`, `ShimCgroup`, `IoUid`, `IoGid`, `Criu*`): it passes no extra arguments to the
//! runtime, so a handler cannot carry `--policy`. `SystemdCgroup` is copied from the default
//! runtime's options when it is `true` there: all runc-based handlers must agree with the
//! kubelet's cgroup driver.

use std::path::Path;

use toml_edit::{Array, DocumentMut, Item, Table, Value};

use super::InstallError;

/// The shim that runs `hardened` as it runs runc.
pub const RUNTIME_TYPE: &str = "io.containerd.runc.v2";
/// Pod annotations the CRI plugin passes to the runtime (`io.hardened.profile`).
pub const POD_ANNOTATIONS: &str = "io.hardened.*";

/// The two config formats we edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigVersion {
    /// containerd 1.x (1.3 and later); containerd 2.x reads it too.
    V2,
    /// containerd 2.x.
    V3,
}

impl ConfigVersion {
    pub fn number(self) -> i64 {
        match self {
            ConfigVersion::V2 => 2,
            ConfigVersion::V3 => 3,
        }
    }

    /// The plugin whose `containerd.runtimes` holds the CRI runtime handlers.
    pub fn cri_plugin(self) -> &'static str {
        match self {
            ConfigVersion::V2 => "io.containerd.grpc.v1.cri",
            ConfigVersion::V3 => "io.containerd.cri.v1.runtime",
        }
    }

    fn runtimes_path(self) -> [&'static str; 4] {
        ["plugins", self.cri_plugin(), "containerd", "runtimes"]
    }

    /// The handler's section header, as containerd's docs write it.
    pub fn section(self, name: &str) -> String {
        match self {
            ConfigVersion::V2 => {
                format!("plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.{name}")
            }
            ConfigVersion::V3 => {
                format!("plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.{name}")
            }
        }
    }
}

/// What to register.
#[derive(Debug, Clone)]
pub struct ContainerdRuntime<'a> {
    /// The handler name (the RuntimeClass `handler`).
    pub name: &'a str,
    /// Absolute path of the `hardened` binary (`BinaryName`).
    pub path: &'a str,
}

/// The major version in `containerd --version` output, e.g.
/// `containerd github.com/containerd/containerd 1.6.20~ds1 ...` or
/// `containerd github.com/containerd/containerd/v2 v2.0.0 ...`.
pub fn parse_containerd_version(out: &str) -> Option<u32> {
    out.split_whitespace().find_map(|w| {
        let w = w.strip_prefix('v').unwrap_or(w);
        let (major, rest) = w.split_once('.')?;
        rest.starts_with(|c: char| c.is_ascii_digit())
            .then(|| major.parse().ok())
            .flatten()
    })
}

/// The TOML document in `text` (also podman's containers.conf), or where it does not parse.
pub(super) fn parse(text: &str, file: &Path) -> Result<DocumentMut, InstallError> {
    text.parse::<DocumentMut>().map_err(|e| {
        let (line, column) = super::line_column(text, e.span().map(|s| s.start).unwrap_or(0));
        InstallError::Invalid {
            path: file.to_path_buf(),
            format: "TOML",
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })
}

/// The file's format, and whether a `version` line must be added.
fn detect(
    doc: &DocumentMut,
    file: &Path,
    containerd_major: Option<u32>,
) -> Result<(ConfigVersion, bool), InstallError> {
    match doc.get("version") {
        Some(item) => match item.as_integer() {
            Some(2) => Ok((ConfigVersion::V2, false)),
            Some(3) => Ok((ConfigVersion::V3, false)),
            Some(1) => Err(InstallError::refused(
                file,
                "this is a version 1 config (`version = 1`), which names plugins by short IDs \
                 and which containerd 2.x no longer reads: convert it to version 2 (`version = \
                 2`, plugins by full ID such as \"io.containerd.grpc.v1.cri\"; see containerd's \
                 docs/PLUGINS.md), then run this command again",
            )),
            _ => Err(InstallError::refused(
                file,
                format!(
                    "unknown config `version = {}`: hardened knows versions 2 (containerd 1.x) \
                     and 3 (containerd 2.x)",
                    item.to_string().trim()
                ),
            )),
        },
        None => {
            if let Some(k) = ["plugins", "disabled_plugins", "required_plugins"]
                .into_iter()
                .find(|k| doc.contains_key(k))
            {
                return Err(InstallError::refused(
                    file,
                    format!(
                        "the file has no `version` line, so containerd reads it as a version 1 \
                         config, yet it sets `{k}`: a handler added in the version 2 format \
                         would be silently ignored. Add `version = 2` at the top and name \
                         plugins by full ID (e.g. [plugins.\"io.containerd.grpc.v1.cri\"] \
                         instead of [plugins.cri]; see containerd's docs/PLUGINS.md), then run \
                         this command again"
                    ),
                ));
            }
            let v = match containerd_major {
                Some(m) if m >= 2 => ConfigVersion::V3,
                _ => ConfigVersion::V2,
            };
            Ok((v, true))
        }
    }
}

fn path_display(path: &[&str]) -> String {
    path.iter()
        .map(|s| {
            if s.contains('.') {
                format!("\"{s}\"")
            } else {
                (*s).to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The table at `path`, created (as implicit tables, which print no header of their own) when
/// `create`; None when absent and not `create`.
fn table_at<'a>(
    root: &'a mut Table,
    path: &[&str],
    create: bool,
    file: &Path,
) -> Result<Option<&'a mut Table>, InstallError> {
    let mut t = root;
    for (i, seg) in path.iter().enumerate() {
        if !t.contains_key(seg) {
            if !create {
                return Ok(None);
            }
            let mut new = Table::new();
            new.set_implicit(true);
            t.insert(seg, Item::Table(new));
        }
        t = match t.get_mut(seg) {
            Some(Item::Table(next)) => next,
            _ => {
                return Err(InstallError::refused(
                    file,
                    format!(
                        "`{}` is not a [table] section (an inline table or a value): hardened \
                         edits only [section] tables; write the handler by hand (see \
                         docs/kubernetes.md)",
                        path_display(&path[..=i])
                    ),
                ))
            }
        };
    }
    Ok(Some(t))
}

/// The read-only item at `path`, through tables and inline tables.
fn item_at<'a>(root: &'a Table, path: &[&str]) -> Option<&'a Item> {
    let (first, rest) = path.split_first()?;
    let mut item = root.get(first)?;
    for seg in rest {
        item = item.get(seg)?;
    }
    Some(item)
}

/// `SystemdCgroup = true` in the options of the default runtime (`default_runtime_name`, else
/// `runc`).
fn default_uses_systemd_cgroup(root: &Table, v: ConfigVersion) -> bool {
    let p = v.runtimes_path();
    let default = item_at(root, &p[..3])
        .and_then(|c| c.get("default_runtime_name"))
        .and_then(Item::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("runc");
    item_at(root, &p)
        .and_then(|r| r.get(default))
        .and_then(|r| r.get("options"))
        .and_then(|o| o.get("SystemdCgroup"))
        .and_then(Item::as_bool)
        .unwrap_or(false)
}

/// The whitespace that starts the last line of a decor prefix (comments are not copied).
fn indent_of(prefix: Option<&str>) -> Option<String> {
    let last = prefix?.rsplit('\n').next()?;
    last.chars()
        .all(|c| c == ' ' || c == '\t')
        .then(|| last.to_string())
}

fn table_indent(t: &Table) -> Option<String> {
    indent_of(t.decor().prefix().and_then(|r| r.as_str()))
}

fn first_key_indent(t: &Table) -> Option<String> {
    let (k, _) = t.iter().find(|(_, i)| i.is_value())?;
    indent_of(t.key(k)?.leaf_decor().prefix().and_then(|r| r.as_str()))
}

/// Indentation of a new handler section, copied from a sibling runtime.
struct Style {
    table: String,
    keys: String,
    options: String,
    option_keys: String,
}

impl Style {
    fn from_siblings(runtimes: &Table, name: &str) -> Style {
        let sibling = runtimes
            .iter()
            .find_map(|(k, i)| (k != name).then(|| i.as_table()).flatten());
        let table = sibling
            .and_then(table_indent)
            .or_else(|| table_indent(runtimes))
            .unwrap_or_default();
        let step = if table.is_empty() { "" } else { "  " };
        let keys = sibling
            .and_then(first_key_indent)
            .unwrap_or_else(|| format!("{table}{step}"));
        let opts = sibling
            .and_then(|s| s.get("options"))
            .and_then(Item::as_table);
        let options = opts.and_then(table_indent).unwrap_or_else(|| keys.clone());
        let option_keys = opts
            .and_then(first_key_indent)
            .unwrap_or_else(|| format!("{options}{step}"));
        Style {
            table,
            keys,
            options,
            option_keys,
        }
    }
}

/// Equal TOML values, whatever their quoting and decor.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.value() == y.value(),
        (Value::Boolean(x), Value::Boolean(y)) => x.value() == y.value(),
        (Value::Integer(x), Value::Integer(y)) => x.value() == y.value(),
        _ => {
            let (mut a, mut b) = (a.clone(), b.clone());
            a.decor_mut().clear();
            b.decor_mut().clear();
            a.to_string() == b.to_string()
        }
    }
}

/// Set `key` to `v` unless it already holds an equal value (keeping the key's decor and the
/// value's comments); true when something changed.
fn set(t: &mut Table, key: &str, v: Value, indent: &str) -> bool {
    match t.get_mut(key) {
        Some(Item::Value(old)) => {
            if same(old, &v) {
                return false;
            }
            let decor = old.decor().clone();
            let mut v = v;
            *v.decor_mut() = decor;
            *old = v;
        }
        _ => {
            t.insert(key, Item::Value(v));
            if let Some(mut k) = t.key_mut(key) {
                k.leaf_decor_mut().set_prefix(indent);
            }
        }
    }
    true
}

/// The CRI runtime handlers the config registers, in both formats: (name, `BinaryName`, empty
/// when the handler runs runc), for `hardened doctor`.
pub fn runtimes(text: &str, file: &Path) -> Result<Vec<(String, String)>, InstallError> {
    let doc = parse(text, file)?;
    let mut found = Vec::new();
    for v in [ConfigVersion::V2, ConfigVersion::V3] {
        let Some(handlers) = item_at(doc.as_table(), &v.runtimes_path()) else {
            continue;
        };
        let Some(handlers) = handlers.as_table_like() else {
            continue;
        };
        for (name, h) in handlers.iter() {
            let binary = h
                .get("options")
                .and_then(|o| o.get("BinaryName"))
                .and_then(Item::as_str)
                .unwrap_or_default();
            found.push((name.to_string(), binary.to_string()));
        }
    }
    Ok(found)
}

/// The new text of `config.toml` with the handler registered. `old` is the file's text (None:
/// no file); `containerd_major` is used only when the file has no `version`. Returns `old`
/// itself, unchanged, when the handler is already registered so.
pub fn install(
    old: Option<&str>,
    file: &Path,
    rt: &ContainerdRuntime<'_>,
    containerd_major: Option<u32>,
) -> Result<(String, ConfigVersion), InstallError> {
    let text = old.unwrap_or("");
    let mut doc = parse(text, file)?;
    let (version, add_version) = detect(&doc, file, containerd_major)?;
    let mut changed = false;
    if add_version {
        doc.insert("version", toml_edit::value(version.number()));
        changed = true;
    }
    let systemd = default_uses_systemd_cgroup(doc.as_table(), version);
    let path = version.runtimes_path();
    let runtimes = table_at(doc.as_table_mut(), &path, true, file)?
        .ok_or_else(|| InstallError::refused(file, "internal error: no runtimes table"))?;
    let style = Style::from_siblings(runtimes, rt.name);
    let shown = path_display(&[&path[..], &[rt.name]].concat());
    let (handler, added) = subtable(runtimes, rt.name, &style.table, file, || {
        format!("`{shown}` is not a [table] section: remove it or choose another --name")
    })?;
    changed |= added;
    changed |= set(handler, "runtime_type", RUNTIME_TYPE.into(), &style.keys);
    changed |= add_pod_annotations(handler, &style.keys);
    let (options, added) = subtable(handler, "options", &style.options, file, || {
        format!("`{shown}.options` is not a [table] section: make it one, or remove it")
    })?;
    changed |= added;
    changed |= set(options, "BinaryName", rt.path.into(), &style.option_keys);
    if systemd {
        changed |= set(options, "SystemdCgroup", true.into(), &style.option_keys);
    }
    if !changed {
        return Ok((text.to_string(), version));
    }
    let new = doc.to_string();
    check_reads_back(&new, file, &path, rt)?;
    Ok((new, version))
}

/// The [table] `key` of `parent`, added (a new section indented by `indent`) when missing;
/// whether it was added. Refused with `not_a_table` when `key` is something else.
fn subtable<'a>(
    parent: &'a mut Table,
    key: &str,
    indent: &str,
    file: &Path,
    not_a_table: impl FnOnce() -> String,
) -> Result<(&'a mut Table, bool), InstallError> {
    let added = !parent.contains_key(key);
    if added {
        let mut t = Table::new();
        t.decor_mut().set_prefix(format!("\n{indent}"));
        parent.insert(key, Item::Table(t));
    }
    match parent.get_mut(key) {
        Some(Item::Table(t)) => Ok((t, added)),
        _ => Err(InstallError::refused(file, not_a_table())),
    }
}

/// `pod_annotations`: ours added to whatever patterns are there; whether it changed.
fn add_pod_annotations(handler: &mut Table, indent: &str) -> bool {
    let has_ours = handler
        .get("pod_annotations")
        .and_then(Item::as_array)
        .map(|a| a.iter().any(|v| v.as_str() == Some(POD_ANNOTATIONS)));
    match (has_ours, handler.get_mut("pod_annotations")) {
        (Some(true), _) => false,
        (Some(false), Some(item)) => match item.as_array_mut() {
            Some(a) => {
                a.push(POD_ANNOTATIONS);
                true
            }
            None => false,
        },
        _ => {
            let a: Array = [POD_ANNOTATIONS].into_iter().collect();
            set(handler, "pod_annotations", Value::Array(a), indent)
        }
    }
}

/// Read the result back as containerd will: the handler must be there, as written.
fn check_reads_back(
    new: &str,
    file: &Path,
    runtimes: &[&str],
    rt: &ContainerdRuntime<'_>,
) -> Result<(), InstallError> {
    let check = parse(new, file)?;
    let h = item_at(check.as_table(), runtimes).and_then(|r| r.get(rt.name));
    let ok = h.and_then(|h| h.get("runtime_type")).and_then(Item::as_str) == Some(RUNTIME_TYPE)
        && h.and_then(|h| h.get("options"))
            .and_then(|o| o.get("BinaryName"))
            .and_then(Item::as_str)
            == Some(rt.path);
    if !ok {
        return Err(InstallError::refused(
            file,
            "internal error: the edited file does not read back with the handler; please \
             report this with the file",
        ));
    }
    Ok(())
}

/// The new text of `config.toml` without the handler `name` (in either format). None when
/// there is no file; `old` unchanged when the handler is not there.
pub fn uninstall(old: Option<&str>, file: &Path, name: &str) -> super::Removed {
    let Some(text) = old else { return Ok(None) };
    let mut doc = parse(text, file)?;
    let mut changed = false;
    for v in [ConfigVersion::V2, ConfigVersion::V3] {
        let path = v.runtimes_path();
        let present = item_at(doc.as_table(), &path).is_some_and(|r| r.get(name).is_some());
        if !present {
            continue;
        }
        let default = item_at(doc.as_table(), &path[..3])
            .and_then(|c| c.get("default_runtime_name"))
            .and_then(Item::as_str);
        if default == Some(name) {
            return Err(InstallError::refused(
                file,
                format!(
                    "`default_runtime_name` is \"{name}\": containerd's CRI plugin would not \
                     start without it; set it to another handler (e.g. \"runc\") first"
                ),
            ));
        }
        if let Some(runtimes) = table_at(doc.as_table_mut(), &path, false, file)? {
            runtimes.remove(name);
            changed = true;
        }
        // Tables that only held the handler and print no header of their own go too.
        for depth in (1..path.len()).rev() {
            let Some(parent) = table_at(doc.as_table_mut(), &path[..depth], false, file)? else {
                continue;
            };
            let empty_implicit = parent
                .get(path[depth])
                .and_then(Item::as_table)
                .is_some_and(|t| t.is_empty() && t.is_implicit());
            if !empty_implicit {
                break;
            }
            parent.remove(path[depth]);
        }
        let root_plugins_empty = doc
            .get("plugins")
            .and_then(Item::as_table)
            .is_some_and(|t| t.is_empty() && t.is_implicit());
        if root_plugins_empty {
            doc.remove("plugins");
        }
    }
    if !changed {
        return Ok(Some(text.to_string()));
    }
    Ok(Some(doc.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "/etc/containerd/config.toml";
    const V2_DEFAULT: &str = include_str!("testdata/containerd-1.6-default.toml");
    const V3_NODE: &str = include_str!("testdata/containerd-2.0-node.toml");

    fn rt() -> ContainerdRuntime<'static> {
        ContainerdRuntime {
            name: "hardened",
            path: "/usr/local/bin/hardened",
        }
    }

    fn inst(old: Option<&str>, major: Option<u32>) -> Result<(String, ConfigVersion), String> {
        install(old, Path::new(FILE), &rt(), major).map_err(|e| e.to_string())
    }

    fn uninst(old: Option<&str>) -> Result<Option<String>, String> {
        uninstall(old, Path::new(FILE), "hardened").map_err(|e| e.to_string())
    }

    fn get<'a>(doc: &'a DocumentMut, path: &[&str]) -> Option<&'a Item> {
        item_at(doc.as_table(), path)
    }

    fn handler(doc: &DocumentMut, v: ConfigVersion) -> &Item {
        let p = v.runtimes_path();
        get(doc, &[&p[..], &["hardened"]].concat()).expect("handler")
    }

    #[test]
    fn containerd_versions() {
        assert_eq!(
            parse_containerd_version(
                "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3"
            ),
            Some(1)
        );
        assert_eq!(
            parse_containerd_version(
                "containerd github.com/containerd/containerd/v2 v2.0.0 207ad711eabd375a01713109a8a197d197ff6542"
            ),
            Some(2)
        );
        assert_eq!(
            parse_containerd_version(
                "containerd containerd.io 1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da"
            ),
            Some(1)
        );
        assert_eq!(parse_containerd_version("nonsense"), None);
    }

    #[test]
    fn v2_default_config() {
        let (new, v) = inst(Some(V2_DEFAULT), None).unwrap();
        assert_eq!(v, ConfigVersion::V2);
        let doc: DocumentMut = new.parse().unwrap();
        let h = handler(&doc, v);
        assert_eq!(h["runtime_type"].as_str(), Some(RUNTIME_TYPE));
        let ann: Vec<&str> = h["pod_annotations"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(ann, [POD_ANNOTATIONS]);
        assert_eq!(
            h["options"]["BinaryName"].as_str(),
            Some("/usr/local/bin/hardened")
        );
        // The default runtime does not use the systemd cgroup driver: nor does ours.
        assert!(h["options"].get("SystemdCgroup").is_none());
        // Only lines were added, in the section's place, indented like runc's.
        let added = "
        [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.hardened]
          runtime_type = \"io.containerd.runc.v2\"
          pod_annotations = [\"io.hardened.*\"]

          [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.hardened.options]
            BinaryName = \"/usr/local/bin/hardened\"
";
        let anchor = "            SystemdCgroup = false\n";
        let expected = V2_DEFAULT.replacen(anchor, &format!("{anchor}{added}"), 1);
        assert_eq!(new, expected);
    }

    #[test]
    fn v3_node_config_keeps_comments_and_copies_systemd_cgroup() {
        let (new, v) = inst(Some(V3_NODE), Some(1)).unwrap();
        assert_eq!(v, ConfigVersion::V3);
        let doc: DocumentMut = new.parse().unwrap();
        let h = handler(&doc, v);
        assert_eq!(h["runtime_type"].as_str(), Some(RUNTIME_TYPE));
        assert_eq!(h["options"]["SystemdCgroup"].as_bool(), Some(true));
        assert!(new.contains(
            "\n        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.hardened]\n          runtime_type = \"io.containerd.runc.v2\"\n"
        ), "{new}");
        assert!(new.contains("# The kubelet on this node uses the systemd cgroup driver."));
        // Nothing of the v2 format was added.
        assert!(!new.contains("io.containerd.grpc.v1.cri\".containerd"));
        // Everything else is as it was: removing the added lines gives the original.
        let removed: String = new
            .lines()
            .filter(|l| {
                !l.contains("runtimes.hardened")
                    && !l.contains("pod_annotations = [\"io.hardened.*\"]")
                    && !l.contains("runtime_type = \"io.containerd.runc.v2\"")
                    && !l.contains("BinaryName = \"/usr/local/bin/hardened\"")
                    && !l.contains("SystemdCgroup = true")
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let orig: String = V3_NODE
            .lines()
            .filter(|l| !l.contains("SystemdCgroup = true"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            removed.split_whitespace().collect::<Vec<_>>(),
            orig.split_whitespace().collect::<Vec<_>>()
        );
    }

    #[test]
    fn idempotent_in_both_formats() {
        for (old, major) in [(V2_DEFAULT, None), (V3_NODE, Some(2))] {
            let (once, _) = inst(Some(old), major).unwrap();
            let (twice, _) = inst(Some(&once), major).unwrap();
            assert_eq!(once, twice);
        }
        let (once, _) = inst(None, None).unwrap();
        let (twice, _) = inst(Some(&once), None).unwrap();
        assert_eq!(once, twice);
    }

    #[test]
    fn uninstall_restores_byte_for_byte() {
        for (old, major) in [(V2_DEFAULT, None), (V3_NODE, None)] {
            let (new, _) = inst(Some(old), major).unwrap();
            assert_ne!(new, old);
            let back = uninst(Some(&new)).unwrap().unwrap();
            assert_eq!(back, old);
            // Idempotent.
            let again = uninst(Some(&back)).unwrap().unwrap();
            assert_eq!(again, old);
        }
        assert_eq!(uninst(None).unwrap(), None);
    }

    #[test]
    fn missing_or_empty_file() {
        let (new, v) = inst(None, Some(1)).unwrap();
        assert_eq!(v, ConfigVersion::V2);
        assert_eq!(
            new,
            "version = 2

[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.hardened]
runtime_type = \"io.containerd.runc.v2\"
pod_annotations = [\"io.hardened.*\"]

[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.hardened.options]
BinaryName = \"/usr/local/bin/hardened\"
"
        );
        // containerd 2.x: version 3.
        let (new3, v) = inst(Some(""), Some(2)).unwrap();
        assert_eq!(v, ConfigVersion::V3);
        assert!(new3.starts_with("version = 3\n"), "{new3}");
        assert!(new3
            .contains("[plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes.hardened]"));
        // Uninstall leaves the version line (and nothing else).
        let back = uninst(Some(&new)).unwrap().unwrap();
        assert_eq!(back, "version = 2\n");
        // A file without plugin settings gets a version line.
        let (new, _) = inst(Some("root = \"/data/containerd\"\n"), None).unwrap();
        assert!(
            new.starts_with("root = \"/data/containerd\"\nversion = 2\n"),
            "{new}"
        );
    }

    #[test]
    fn version_1_and_unversioned_plugin_configs_are_refused() {
        let err = inst(Some("version = 1\n[plugins.cri]\n"), None).unwrap_err();
        assert!(err.contains(FILE) && err.contains("version 1"), "{err}");
        let err = inst(
            Some("[plugins.cri.containerd]\nsnapshotter = \"overlayfs\"\n"),
            None,
        )
        .unwrap_err();
        assert!(err.contains("no `version` line"), "{err}");
        let err = inst(Some("version = 4\n"), None).unwrap_err();
        assert!(err.contains("version = 4"), "{err}");
    }

    #[test]
    fn invalid_toml_names_file_and_line() {
        let bad = "version = 2\n[plugins]\nfoo = = 1\n";
        let err = inst(Some(bad), None).unwrap_err();
        assert!(err.contains(FILE) && err.contains("line 3"), "{err}");
        assert!(err.contains("nothing was changed"), "{err}");
        let err = uninst(Some(bad)).unwrap_err();
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn an_existing_handler_is_updated_in_place() {
        let old = r#"version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hardened]
  runtime_type = "io.containerd.runc.v2"
  pod_annotations = ["io.example.*"] # ours
  privileged_without_host_devices = true
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hardened.options]
    BinaryName = "/opt/old/hardened"
    Root = "/run/hardened-k8s"
"#;
        let (new, _) = inst(Some(old), None).unwrap();
        assert_eq!(
            new,
            r#"version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hardened]
  runtime_type = "io.containerd.runc.v2"
  pod_annotations = ["io.example.*", "io.hardened.*"] # ours
  privileged_without_host_devices = true
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hardened.options]
    BinaryName = "/usr/local/bin/hardened"
    Root = "/run/hardened-k8s"
"#
        );
    }

    #[test]
    fn shapes_we_do_not_edit_are_refused() {
        let inline = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\nruntimes = { runc = { runtime_type = \"io.containerd.runc.v2\" } }\n";
        let err = inst(Some(inline), None).unwrap_err();
        assert!(err.contains("not a [table] section"), "{err}");
    }

    #[test]
    fn uninstall_refuses_to_remove_the_default_handler() {
        let old = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\ndefault_runtime_name = \"hardened\"\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.hardened]\nruntime_type = \"io.containerd.runc.v2\"\n";
        let err = uninst(Some(old)).unwrap_err();
        assert!(err.contains("default_runtime_name"), "{err}");
    }
}
