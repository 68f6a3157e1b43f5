//! The runtime in podman's `containers.conf`:
//!
//! ```toml
//! [engine.runtimes]
//! hardened = ["/usr/local/bin/hardened"]
//! ```
//!
//! then `podman run --runtime hardened ...`. By default the section goes to a drop-in of its own,
//! `/etc/containers/containers.conf.d/hardened.conf`, which podman (4.x) reads after
//! `/etc/containers/containers.conf`; `--config` names another file (the main one, or a
//! user's `~/.config/containers/containers.conf`).
//!
//! The file is edited with `toml_edit`: comments, order and quoting of everything else stay as
//! they were, and `uninstall` after `install` gives back the original bytes (a section or
//! `[engine]` table made by `install` goes again). podman passes no per-runtime arguments, so a
//! runtime cannot carry `--policy`: hardened reads `/etc/hardened/policy.toml`, and a container
//! selects a profile with `--annotation io.hardened.profile=NAME`.

use std::path::Path;

use toml_edit::{Array, DocumentMut, Item, Table, Value};

use super::containerd::parse;
use super::InstallError;

/// What to register.
#[derive(Debug, Clone)]
pub struct PodmanRuntime<'a> {
    /// The runtime name (`podman run --runtime NAME`).
    pub name: &'a str,
    /// Absolute path of the `hardened` binary.
    pub path: &'a str,
}

/// The [table] `key` of `parent` (`shown`: its dotted name); `new` is added when it is missing
/// (None: nothing is added, and None is returned).
fn table_in<'a>(
    parent: &'a mut Table,
    key: &str,
    new: Option<Table>,
    file: &Path,
    shown: &str,
) -> Result<Option<&'a mut Table>, InstallError> {
    if !parent.contains_key(key) {
        let Some(t) = new else { return Ok(None) };
        parent.insert(key, Item::Table(t));
    }
    match parent.get_mut(key) {
        Some(Item::Table(t)) => Ok(Some(t)),
        _ => Err(InstallError::refused(
            file,
            format!("`{shown}` is not a [table] section: make it one (`[{shown}]`) and run again"),
        )),
    }
}

/// The `[engine]` table (`create`: made, with no header of its own, when missing).
fn engine_table<'d>(
    doc: &'d mut DocumentMut,
    file: &Path,
    create: bool,
) -> Result<Option<&'d mut Table>, InstallError> {
    let new = create.then(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        t
    });
    table_in(doc.as_table_mut(), "engine", new, file, "engine")
}

/// The `[engine.runtimes]` table of `engine` (`create`: made when missing, a blank line before
/// its header unless it is the file's first).
fn runtimes_table<'e>(
    engine: &'e mut Table,
    file: &Path,
    create: bool,
) -> Result<Option<&'e mut Table>, InstallError> {
    let first = engine.is_empty() && engine.is_implicit();
    let new = create.then(|| {
        let mut t = Table::new();
        if !first {
            t.decor_mut().set_prefix("\n");
        }
        t
    });
    table_in(engine, "runtimes", new, file, "engine.runtimes")
}

/// The new text of `containers.conf` with the runtime registered (`old`: the file's text, None:
/// no file). Returns `old` itself, unchanged, when the runtime is already registered so.
pub fn install(old: Option<&str>, file: &Path, rt: &PodmanRuntime<'_>) -> super::Added {
    let text = old.unwrap_or("");
    let mut doc = parse(text, file)?;
    let want: Array = [rt.path].into_iter().collect();
    let engine = engine_table(&mut doc, file, true)?.expect("created");
    let runtimes = runtimes_table(engine, file, true)?.expect("created");
    let current = runtimes.get(rt.name).and_then(Item::as_array);
    if current.is_some_and(|a| a.len() == 1 && a.get(0).and_then(Value::as_str) == Some(rt.path)) {
        return Ok(text.to_string());
    }
    match runtimes.get_mut(rt.name).and_then(Item::as_value_mut) {
        // Another list of paths: ours replaces it, where it was.
        Some(v) => {
            let decor = v.decor().clone();
            *v = Value::Array(want);
            *v.decor_mut() = decor;
        }
        None => {
            if runtimes.contains_key(rt.name) {
                return Err(InstallError::refused(
                    file,
                    format!(
                        "`engine.runtimes.{}` is a table, not a list of paths: remove it or \
                         choose another --name",
                        rt.name
                    ),
                ));
            }
            runtimes.insert(rt.name, toml_edit::value(want));
        }
    }
    let new = doc.to_string();
    // Read the result back as podman will: the runtime must be there, as written.
    let check = parse(&new, file)?;
    let path = check
        .get("engine")
        .and_then(|e| e.get("runtimes"))
        .and_then(|r| r.get(rt.name))
        .and_then(Item::as_array)
        .and_then(|a| a.get(0))
        .and_then(Value::as_str);
    if path != Some(rt.path) {
        return Err(InstallError::refused(
            file,
            "internal error: the edited file does not read back with the runtime; please \
             report this with the file",
        ));
    }
    Ok(new)
}

/// The runtimes `[engine.runtimes]` registers: (name, first path), for `hardened doctor`.
pub fn runtimes(text: &str, file: &Path) -> Result<Vec<(String, String)>, InstallError> {
    let doc = parse(text, file)?;
    let Some(runtimes) = doc
        .get("engine")
        .and_then(|e| e.get("runtimes"))
        .and_then(Item::as_table_like)
    else {
        return Ok(Vec::new());
    };
    Ok(runtimes
        .iter()
        .map(|(name, v)| {
            let path = v
                .as_array()
                .and_then(|a| a.get(0))
                .and_then(Value::as_str)
                .unwrap_or_default();
            (name.to_string(), path.to_string())
        })
        .collect())
}

/// The new text of `containers.conf` without the runtime `name`. None when there is no file;
/// `old` unchanged when the runtime is not there.
pub fn uninstall(
    old: Option<&str>,
    file: &Path,
    name: &str,
) -> Result<Option<String>, InstallError> {
    let Some(text) = old else { return Ok(None) };
    let mut doc = parse(text, file)?;
    let Some(engine) = engine_table(&mut doc, file, false)? else {
        return Ok(Some(text.to_string()));
    };
    if engine.get("runtime").and_then(Item::as_str) == Some(name) {
        return Err(InstallError::refused(
            file,
            format!(
                "`engine.runtime` is \"{name}\": podman would not find its default runtime \
                 without it; set it to another runtime (e.g. \"crun\") first"
            ),
        ));
    }
    let Some(runtimes) = runtimes_table(engine, file, false)? else {
        return Ok(Some(text.to_string()));
    };
    let Some(removed) = runtimes.remove(name) else {
        return Ok(Some(text.to_string()));
    };
    let kept = doc.to_string();
    // The section, and an `[engine]` with no header of its own, go too when install made them:
    // when installing again into the smaller file gives this one back.
    if let Some(engine) = engine_table(&mut doc, file, false)? {
        if engine
            .get("runtimes")
            .and_then(Item::as_table)
            .is_some_and(Table::is_empty)
        {
            engine.remove("runtimes");
            if engine.is_empty() && engine.is_implicit() {
                doc.remove("engine");
            }
        }
    }
    let smaller = doc.to_string();
    if smaller != kept {
        let path = removed
            .as_array()
            .and_then(|a| a.get(0))
            .and_then(Value::as_str);
        if let Some(path) = path {
            let again = install(Some(&smaller), file, &PodmanRuntime { name, path });
            if again.is_ok_and(|t| t == text) {
                return Ok(Some(smaller));
            }
        }
    }
    Ok(Some(kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RT: PodmanRuntime = PodmanRuntime {
        name: "hardened",
        path: "/usr/local/bin/hardened",
    };

    fn file() -> &'static Path {
        Path::new("/etc/containers/containers.conf.d/hardened.conf")
    }

    fn round_trip(original: Option<&str>) -> String {
        let new = install(original, file(), &RT).unwrap();
        assert_eq!(
            install(Some(&new), file(), &RT).unwrap(),
            new,
            "not idempotent"
        );
        let back = uninstall(Some(&new), file(), "hardened").unwrap().unwrap();
        assert_eq!(back, original.unwrap_or(""), "uninstall did not restore");
        new
    }

    #[test]
    fn a_new_drop_in() {
        let new = round_trip(None);
        assert_eq!(
            new,
            "[engine.runtimes]\nhardened = [\"/usr/local/bin/hardened\"]\n"
        );
    }

    #[test]
    fn a_file_with_an_engine_section_and_runtimes() {
        let original = "# site config\n[containers]\nlog_size_max = -1\n\n[engine]\ncgroup_manager = \"cgroupfs\" # ours\n\n[engine.runtimes]\nrunsc = [\"/usr/bin/runsc\"]\n\n[network]\nnetwork_backend = \"netavark\"\n";
        let new = round_trip(Some(original));
        assert!(
            new.contains(
                "runsc = [\"/usr/bin/runsc\"]\nhardened = [\"/usr/local/bin/hardened\"]\n"
            ),
            "{new}"
        );
        assert!(
            new.contains("cgroup_manager = \"cgroupfs\" # ours"),
            "{new}"
        );
        let doc: toml::Table = toml::from_str(&new).unwrap();
        assert_eq!(doc["network"]["network_backend"].as_str(), Some("netavark"));
    }

    #[test]
    fn a_file_with_an_engine_section_only() {
        let original = "[engine]\nevents_logger = \"file\"\n";
        let new = round_trip(Some(original));
        assert_eq!(new, "[engine]\nevents_logger = \"file\"\n\n[engine.runtimes]\nhardened = [\"/usr/local/bin/hardened\"]\n");
    }

    /// The shape of Debian's /usr/share/containers/containers.conf: a section of comments.
    #[test]
    fn a_section_of_comments() {
        let original = "[engine]\n#runtime = \"crun\"\n\n[engine.runtimes]\n#crun = [\n#  \"/usr/bin/crun\",\n#]\n\n[engine.volume_plugins]\n#testplugin = \"/run/podman/plugins/test.sock\"\n";
        let new = round_trip(Some(original));
        let doc: toml::Table = toml::from_str(&new).unwrap();
        assert_eq!(
            doc["engine"]["runtimes"]["hardened"][0].as_str(),
            Some(RT.path),
            "{new}"
        );
    }

    #[test]
    fn another_path_is_replaced_in_place() {
        let old = "[engine.runtimes]\nhardened = [\"/opt/old/hardened\"] # keep\ncrun = [\"/usr/bin/crun\"]\n";
        let new = install(Some(old), file(), &RT).unwrap();
        assert_eq!(new, "[engine.runtimes]\nhardened = [\"/usr/local/bin/hardened\"] # keep\ncrun = [\"/usr/bin/crun\"]\n");
    }

    #[test]
    fn shapes_it_does_not_edit_are_refused() {
        for bad in [
            "engine = 1\n",
            "engine = { runtime = \"crun\" }\n",
            "[engine]\nruntimes = 3\n",
            "[engine.runtimes.hardened]\npath = \"/x\"\n",
        ] {
            let err = install(Some(bad), file(), &RT).unwrap_err();
            assert!(
                err.to_string().contains("nothing was changed"),
                "{bad}: {err}"
            );
        }
        let err = install(Some("[engine\n"), file(), &RT).unwrap_err();
        assert!(err.to_string().contains("invalid TOML at line 1"), "{err}");
    }

    /// The text `uninstall` leaves of `old`.
    fn removed(old: &str) -> Option<String> {
        uninstall(Some(old), file(), "hardened").unwrap()
    }

    #[test]
    fn uninstall_keeps_the_default_runtime_and_what_is_not_ours() {
        let default = "[engine]\nruntime = \"hardened\"\n[engine.runtimes]\nhardened = [\"/x\"]\n";
        let err = uninstall(Some(default), file(), "hardened").unwrap_err();
        assert!(err.to_string().contains("engine.runtime"), "{err}");
        assert_eq!(uninstall(None, file(), "hardened").unwrap(), None);
        let other = "[engine.runtimes]\ncrun = [\"/usr/bin/crun\"]\n";
        assert_eq!(removed(other).as_deref(), Some(other));
        // Its runtime goes; the section stays with the others.
        let both = "[engine.runtimes]\ncrun = [\"/usr/bin/crun\"]\nhardened = [\"/x\"]\n";
        assert_eq!(removed(both).as_deref(), Some(other));
    }
}
