//! Errors a user reads: one line, short, naming the JSON path of a bad field, never echoing a
//! huge value back.
//!
//! containerd's shim shows the `msg` of the last error line of the runtime's log, and `docker
//! run` prints it after `OCI runtime create failed:`; a config holding a 10 MiB string must not
//! turn that into 10 MiB of output.

use std::path::Path;

use serde::de::DeserializeOwned;

/// The most a user-given value (a path, a string) may take in a message, in bytes.
pub const VALUE_MAX: usize = 64;
/// The most an error line the runtime prints may take, in bytes.
pub const LINE_MAX: usize = 300;

/// `s` cut at a char boundary to at most `max` bytes, with `...` when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let keep = max.saturating_sub(3);
    let mut end = keep.min(s.len());
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// A user-given value for a message: `Debug`-quoted (control characters escaped, so it stays on
/// one line) and clipped to [`VALUE_MAX`].
pub fn value(s: &str) -> String {
    let clipped = clip(s, VALUE_MAX);
    format!("{clipped:?}")
}

/// A user-given path for a message, as [`value`] does it, but clipped at the front: the end
/// names the file.
pub fn path(p: &Path) -> String {
    let s = p.to_string_lossy();
    if s.len() <= VALUE_MAX {
        return format!("{s:?}");
    }
    let mut start = s.len() - (VALUE_MAX - 3);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("{:?}", format!("...{}", &s[start..]))
}

/// `s` as one line of at most `max` bytes: line breaks and other control characters become
/// spaces, runs of spaces one space, quoted runs (`"..."`, `` `...` ``) longer than
/// [`VALUE_MAX`] are clipped, and the whole is clipped to `max`.
pub fn line(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 2));
    let mut last_space = false;
    for c in s.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' {
            if last_space {
                continue;
            }
            last_space = true;
        } else {
            last_space = false;
        }
        out.push(c);
        // Stop early on huge input: the result is clipped anyway.
        if out.len() > 16 * max + 16 * VALUE_MAX {
            break;
        }
    }
    let out = clip_quoted(out.trim(), '"');
    let out = clip_quoted(&out, '`');
    clip(&out, max)
}

/// Clip every run quoted with `q` that is longer than [`VALUE_MAX`].
fn clip_quoted(s: &str, q: char) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find(q) {
        out.push_str(&rest[..start + q.len_utf8()]);
        rest = &rest[start + q.len_utf8()..];
        // The closing quote, skipping backslash escapes.
        let mut end = None;
        let mut escaped = false;
        for (i, c) in rest.char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' && q == '"' {
                escaped = true;
            } else if c == q {
                end = Some(i);
                break;
            }
        }
        match end {
            Some(e) => {
                let inner = &rest[..e];
                if inner.len() > VALUE_MAX {
                    out.push_str(&clip(inner, VALUE_MAX));
                } else {
                    out.push_str(inner);
                }
                out.push(q);
                rest = &rest[e + q.len_utf8()..];
            }
            None => {
                out.push_str(&clip(rest, VALUE_MAX));
                return out;
            }
        }
    }
    out.push_str(rest);
    out
}

/// serde's "expected one of `a`, `b`, ..." lists can name 40 capabilities: keep the first few.
fn shorten_expected(msg: &str) -> String {
    const MARK: &str = "expected one of ";
    let Some(at) = msg.find(MARK) else {
        return msg.to_string();
    };
    let (head, list) = msg.split_at(at + MARK.len());
    let items: Vec<&str> = list.split(", ").collect();
    if items.len() <= 6 {
        return msg.to_string();
    }
    format!(
        "{head}{}, ... ({} in all)",
        items[..5].join(", "),
        items.len()
    )
}

/// The JSON path of a deserialization error (`linux.resources.cpu.quota`, `mounts[3].type`),
/// each key clipped; empty for the document itself.
fn json_path(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for seg in path.iter() {
        use serde_path_to_error::Segment;
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&clip(key, VALUE_MAX));
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    // A syntax error has no field to name.
    if out.split(['.', '[', ']']).all(|p| p.is_empty() || p == "?") {
        out.clear();
    }
    out
}

/// Parse `bytes` as a `T`; the error is one line: `invalid WHAT: PATH: MESSAGE (line L column C)`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, String> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, serde_path_to_error::Error<serde_json::Error>> =
        serde_path_to_error::deserialize(&mut *de);
    match parsed {
        // Trailing characters after the document are an error too (as serde_json::from_slice).
        Ok(v) => match de.end() {
            Ok(()) => Ok(v),
            Err(e) => Err(json_error(what, "", &e)),
        },
        Err(e) => Err(json_error(what, &json_path(e.path()), e.inner())),
    }
}

fn json_error(what: &str, field: &str, inner: &serde_json::Error) -> String {
    // serde_json's message ends with " at line L column C": say it once, at the end.
    let mut msg = inner.to_string();
    if let Some(at) = msg.rfind(" at line ") {
        msg.truncate(at);
    }
    let loc = if inner.line() > 0 {
        format!(" (line {} column {})", inner.line(), inner.column())
    } else {
        String::new()
    };
    // The location stays on the line: the message gets what the rest leaves.
    let budget = LINE_MAX.saturating_sub(what.len() + field.len() + loc.len() + 16);
    let msg = line(&shorten_expected(&msg), budget.max(80));
    let text = if field.is_empty() {
        format!("invalid {what}: {msg}{loc}")
    } else {
        format!("invalid {what}: {field}: {msg}{loc}")
    };
    line(&text, LINE_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::Spec;

    fn spec_error(json: &str) -> String {
        parse_json::<Spec>(json.as_bytes(), "config.json").unwrap_err()
    }

    #[test]
    fn names_the_json_path() {
        let e =
            spec_error(r#"{"ociVersion":"1.0.2","linux":{"resources":{"cpu":{"quota":1e308}}}}"#);
        assert!(
            e.starts_with("invalid config.json: linux.resources.cpu.quota: "),
            "{e}"
        );
        assert!(e.contains("expected i64"), "{e}");
        assert!(e.contains("(line 1 column"), "{e}");
        let e = spec_error(
            r#"{"ociVersion":"1.0.2","mounts":[{"destination":"/a"},{"destination":"/b","type":7}]}"#,
        );
        assert!(e.contains("mounts[1].type: invalid type"), "{e}");
    }

    #[test]
    fn huge_values_are_not_echoed() {
        let huge = "x".repeat(10 << 20);
        let e = spec_error(&format!(
            r#"{{"ociVersion":"1.0.2","process":{{"cwd":"/","args":["a"],"user":{{"uid":"{huge}","gid":0}}}}}}"#
        ));
        assert!(e.len() <= LINE_MAX, "{} bytes", e.len());
        assert!(e.contains("process.user.uid"), "{e}");
        let e = spec_error(&format!(
            r#"{{"ociVersion":"1.0.2","linux":{{"namespaces":[{{"type":"{huge}"}}]}}}}"#
        ));
        assert!(e.len() <= LINE_MAX, "{} bytes", e.len());
        assert!(e.contains("linux.namespaces[0].type"), "{e}");
    }

    #[test]
    fn long_expected_lists_are_cut() {
        let e = spec_error(
            r#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":0,"gid":0},"capabilities":{"bounding":["CAP_FLY"]}}}"#,
        );
        assert!(e.len() <= LINE_MAX, "{e}");
        assert!(e.contains("process.capabilities.bounding"), "{e}");
        assert!(e.contains("CAP_FLY"), "{e}");
    }

    #[test]
    fn syntax_errors_and_trailing_data() {
        let e = spec_error("{\"ociVersion\": ");
        assert!(e.starts_with("invalid config.json: "), "{e}");
        let e = spec_error("{not json");
        assert!(
            e.starts_with("invalid config.json: key must be a string"),
            "{e}"
        );
        assert!(!e.contains('\n'));
        let e = spec_error(r#"{"ociVersion":"1.0.2"} x"#);
        assert!(e.contains("trailing"), "{e}");
    }

    #[test]
    fn line_is_one_short_line() {
        let l = line(&format!("a\nb\r\n\"{}\" c", "y".repeat(1000)), LINE_MAX);
        assert!(!l.contains('\n') && l.len() <= LINE_MAX, "{l}");
        assert!(l.starts_with("a b \"yyy") && l.ends_with("...\" c"), "{l}");
        assert_eq!(clip("héllo", 4), "h...");
        assert_eq!(value("a\nb"), "\"a\\nb\"");
        let long = format!("/{}/process.json", "d".repeat(100));
        let p = path(Path::new(&long));
        assert!(
            p.starts_with("\"...") && p.ends_with("/process.json\""),
            "{p}"
        );
        assert!(p.len() <= VALUE_MAX + 2, "{p}");
    }
}
