//! The runtime in Docker's `daemon.json`:
//!
//! ```json
//! { "runtimes": { "hardened": { "path": "/usr/local/bin/hardened",
//!                               "runtimeArgs": ["--policy", "/etc/hardened/web.toml"] } } }
//! ```
//!
//! Every other key is kept, in its order (serde_json's `preserve_order`). The file is written
//! back pretty-printed with the indentation it had (two spaces for a new or one-line file):
//! JSON keeps no comments or layout to preserve beyond that. Our entry is replaced as a whole
//! (it says what the command said), in its place among the other runtimes.

use std::path::Path;

use serde_json::{Map, Value};

use super::InstallError;

/// What to register.
#[derive(Debug, Clone)]
pub struct DockerRuntime<'a> {
    /// Key under `runtimes` (`docker run --runtime=NAME`).
    pub name: &'a str,
    /// Absolute path of the `hardened` binary.
    pub path: &'a str,
    /// Policy file, passed as `runtimeArgs: ["--policy", FILE]`.
    pub policy: Option<&'a str>,
}

impl DockerRuntime<'_> {
    fn entry(&self) -> Value {
        let mut m = Map::new();
        m.insert("path".into(), Value::String(self.path.to_string()));
        if let Some(p) = self.policy {
            m.insert(
                "runtimeArgs".into(),
                Value::Array(vec!["--policy".into(), Value::String(p.to_string())]),
            );
        }
        Value::Object(m)
    }
}

fn parse(text: &str, file: &Path) -> Result<Map<String, Value>, InstallError> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    let v: Value = serde_json::from_str(text).map_err(|e| InstallError::Invalid {
        path: file.to_path_buf(),
        format: "JSON",
        line: e.line(),
        column: e.column(),
        // serde_json's message ends with " at line L column C": said once, above.
        message: e
            .to_string()
            .trim_end_matches(&format!(" at line {} column {}", e.line(), e.column()))
            .to_string(),
    })?;
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(InstallError::refused(
            file,
            "the top level is not a JSON object; daemon.json must be an object such as \
             {\"runtimes\": {...}}",
        )),
    }
}

/// The indentation of the file's first indented line (two spaces when there is none).
fn indent_of(text: &str) -> String {
    text.lines()
        .skip(1)
        .find_map(|l| {
            let ws: String = l.chars().take_while(|c| *c == ' ' || *c == '\t').collect();
            (!ws.is_empty() && ws.len() < l.len()).then_some(ws)
        })
        .unwrap_or_else(|| "  ".to_string())
}

fn render(m: &Map<String, Value>, indent: &str) -> String {
    use serde::Serialize;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    // A map of JSON values always serializes.
    if m.serialize(&mut ser).is_err() {
        return String::new();
    }
    let mut s = String::from_utf8_lossy(&buf).into_owned();
    s.push('\n');
    s
}

/// The new text of `daemon.json` with the runtime registered. `old` is the file's text (None:
/// no file). Returns `old` itself, unchanged, when the runtime is already registered so.
pub fn install(old: Option<&str>, file: &Path, rt: &DockerRuntime<'_>) -> super::Added {
    let text = old.unwrap_or("");
    let mut m = parse(text, file)?;
    let entry = rt.entry();
    let runtimes = m
        .entry("runtimes")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(runtimes) = runtimes else {
        return Err(InstallError::refused(
            file,
            "\"runtimes\" is not a JSON object; it must map runtime names to \
             {\"path\": ...} objects",
        ));
    };
    if runtimes.get(rt.name) == Some(&entry) {
        return Ok(text.to_string());
    }
    runtimes.insert(rt.name.to_string(), entry);
    Ok(render(&m, &indent_of(text)))
}

/// The runtimes `daemon.json` registers: (name, path), for `hardened doctor`.
pub fn runtimes(text: &str, file: &Path) -> Result<Vec<(String, String)>, InstallError> {
    let m = parse(text, file)?;
    let Some(Value::Object(runtimes)) = m.get("runtimes") else {
        return Ok(Vec::new());
    };
    Ok(runtimes
        .iter()
        .map(|(name, v)| {
            let path = v.get("path").and_then(Value::as_str).unwrap_or_default();
            (name.clone(), path.to_string())
        })
        .collect())
}

/// The new text of `daemon.json` without the runtime `name` (and without a `runtimes` object
/// it leaves empty). None when there is no file; `old` unchanged when `name` is not there.
pub fn uninstall(old: Option<&str>, file: &Path, name: &str) -> super::Removed {
    let Some(text) = old else { return Ok(None) };
    let mut m = parse(text, file)?;
    let Some(Value::Object(runtimes)) = m.get_mut("runtimes") else {
        return Ok(Some(text.to_string()));
    };
    if !runtimes.contains_key(name) {
        return Ok(Some(text.to_string()));
    }
    if m.get("default-runtime").and_then(Value::as_str) == Some(name) {
        return Err(InstallError::refused(
            file,
            format!(
                "\"default-runtime\" is \"{name}\": dockerd would not start without it; set \
                 \"default-runtime\" to another runtime (or remove it) first"
            ),
        ));
    }
    if let Some(Value::Object(runtimes)) = m.get_mut("runtimes") {
        runtimes.shift_remove(name);
        if runtimes.is_empty() {
            m.shift_remove("runtimes");
        }
    }
    Ok(Some(render(&m, &indent_of(text))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "/etc/docker/daemon.json";

    fn rt<'a>(policy: Option<&'a str>) -> DockerRuntime<'a> {
        DockerRuntime {
            name: "hardened",
            path: "/usr/local/bin/hardened",
            policy,
        }
    }

    fn inst(old: Option<&str>) -> Result<String, String> {
        install(old, Path::new(FILE), &rt(None)).map_err(|e| e.to_string())
    }

    fn uninst(old: Option<&str>) -> Result<Option<String>, String> {
        uninstall(old, Path::new(FILE), "hardened").map_err(|e| e.to_string())
    }

    /// Install into `old`, uninstall again: the text comes back as it was.
    fn round_trip(old: &str) -> String {
        let new = inst(Some(old)).unwrap();
        let back = uninst(Some(&new)).unwrap().unwrap();
        assert_eq!(back, old);
        back
    }

    fn json(s: &str) -> Value {
        serde_json::from_str(s).expect("JSON")
    }

    #[test]
    fn missing_file_gets_a_new_one() {
        let new = inst(None).unwrap();
        assert_eq!(
            new,
            "{\n  \"runtimes\": {\n    \"hardened\": {\n      \"path\": \"/usr/local/bin/hardened\"\n    }\n  }\n}\n"
        );
        // An empty file is an empty object.
        assert_eq!(inst(Some(" \n")).unwrap(), new);
    }

    #[test]
    fn keeps_every_other_key_in_order() {
        let old = r#"{
    "log-driver": "json-file",
    "runtimes": {
        "runsc": { "path": "/usr/bin/runsc", "runtimeArgs": ["--platform=kvm"] }
    },
    "storage-driver": "overlay2",
    "default-address-pools": [{"base": "10.10.0.0/16", "size": 24}],
    "zeta": null,
    "alpha": 1
}
"#;
        let new = install(
            Some(old),
            Path::new(FILE),
            &rt(Some("/etc/hardened/p.toml")),
        )
        .unwrap();
        let keys: Vec<String> = json(&new).as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "log-driver",
                "runtimes",
                "storage-driver",
                "default-address-pools",
                "zeta",
                "alpha"
            ]
        );
        let v = json(&new);
        assert_eq!(
            v["runtimes"]["runsc"],
            json(r#"{ "path": "/usr/bin/runsc", "runtimeArgs": ["--platform=kvm"] }"#)
        );
        assert_eq!(
            v["runtimes"]["hardened"],
            json(
                r#"{"path": "/usr/local/bin/hardened", "runtimeArgs": ["--policy", "/etc/hardened/p.toml"]}"#
            )
        );
        assert_eq!(
            v["default-address-pools"],
            json(old)["default-address-pools"]
        );
        // The file's four-space indentation is kept.
        assert!(new.contains("\n    \"log-driver\""), "{new}");
        let rts: Vec<&String> = v["runtimes"].as_object().unwrap().keys().collect();
        assert_eq!(rts, ["runsc", "hardened"]);
    }

    #[test]
    fn idempotent() {
        let once = inst(Some("{\"a\": 1}")).unwrap();
        let twice = inst(Some(&once)).unwrap();
        assert_eq!(once, twice);
        // Already configured, in another layout: returned unchanged, byte for byte.
        let compact = r#"{"runtimes":{"hardened":{"path":"/usr/local/bin/hardened"}}}"#;
        assert_eq!(inst(Some(compact)).unwrap(), compact);
    }

    #[test]
    fn an_older_entry_is_replaced_in_place() {
        let old = r#"{"runtimes": {"a": {"path": "/a"}, "hardened": {"path": "/old/hardened", "runtimeArgs": ["--debug"]}, "z": {"path": "/z"}}}"#;
        let new = inst(Some(old)).unwrap();
        let v = json(&new);
        let rts: Vec<&String> = v["runtimes"].as_object().unwrap().keys().collect();
        assert_eq!(rts, ["a", "hardened", "z"]);
        assert_eq!(
            v["runtimes"]["hardened"],
            json(r#"{"path": "/usr/local/bin/hardened"}"#)
        );
    }

    #[test]
    fn invalid_json_names_file_and_line() {
        let old = "{\n  \"a\": 1,\n  \"b\": oops\n}\n";
        let err = inst(Some(old)).unwrap_err();
        assert!(err.contains(FILE), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("nothing was changed"), "{err}");
        let err = uninst(Some(old)).unwrap_err();
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn wrong_shapes_are_refused() {
        for bad in ["[1]", "{\"runtimes\": []}", "{\"runtimes\": \"x\"}"] {
            let err = inst(Some(bad)).unwrap_err();
            assert!(
                err.contains(FILE) && err.contains("not a JSON object"),
                "{err}"
            );
        }
    }

    #[test]
    fn uninstall_restores() {
        let old = "{\n  \"log-driver\": \"json-file\",\n  \"runtimes\": {\n    \"runsc\": {\n      \"path\": \"/usr/bin/runsc\"\n    }\n  }\n}\n";
        let back = round_trip(old);
        // Idempotent: nothing more to remove.
        assert_eq!(uninst(Some(&back)).unwrap().unwrap(), back);
        assert_eq!(uninst(None).unwrap(), None);
    }

    #[test]
    fn uninstall_drops_the_runtimes_object_it_empties() {
        round_trip("{\n  \"debug\": true\n}\n");
        // An empty runtimes object that was already there and holds nothing of ours stays.
        let keep = "{\"runtimes\": {}}";
        assert_eq!(uninst(Some(keep)).unwrap().unwrap(), keep);
    }

    #[test]
    fn uninstall_refuses_to_remove_the_default_runtime() {
        let old = r#"{"default-runtime": "hardened", "runtimes": {"hardened": {"path": "/x"}}}"#;
        let err = uninst(Some(old)).unwrap_err();
        assert!(err.contains("default-runtime"), "{err}");
    }
}
