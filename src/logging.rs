//! runc-compatible logging.
//!
//! runc writes logrus lines: `time="..." level=error msg="..."` as text, or one JSON object per
//! line with `level`, `msg` and `time` when called with `--log-format json`. containerd's runc
//! shim reads the log file and shows the `msg` of the last `"level":"error"` line to the user
//! (`docker run` prints it as `OCI runtime create failed: <msg>`), so the shape matters.
//!
//! Every line is one line, short, with no Rust `Debug` output ([`readable`]). libcontainer's and
//! libcgroups' own error events are details of the runtime's final error: they are logged as
//! warnings, so that the last error line is always the runtime's one-line summary. The first
//! error a container's process (a fork of this one) reports is also kept in a page shared with
//! this process ([`child_detail`]): the summary names the cause (`failed to mount /mnt (type
//! bogusfs): ENODEV`), which libcontainer's own error would lose.
//!
//! A person at a terminal gets plain messages instead ([`Style::Plain`]: `hardened: error:
//! ...`, several lines when the message has them, e.g. a TOML error's caret diagram): when
//! stderr is a terminal and neither `--log` nor `--log-format` was given. Engines always give
//! one of them or read stderr through a pipe, so they get logrus lines as before.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{Layer, Registry};

use crate::cli::LogFormat;
use crate::oneline::{LINE_MAX, VALUE_MAX};

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// runc's logrus lines, text or JSON: one line each, clipped to [`LINE_MAX`].
    Logrus(LogFormat),
    /// `hardened: LEVEL: message` for a person, the message whole (several lines if it has them).
    Plain,
}

impl Style {
    /// The style for the `--log` and `--log-format` options: plain when neither is given and
    /// stderr is a terminal.
    pub fn of(log: Option<&Path>, format: Option<LogFormat>) -> Style {
        use std::io::IsTerminal;
        match (log, format) {
            (None, None) if std::io::stderr().is_terminal() => Style::Plain,
            (_, format) => Style::Logrus(format.unwrap_or(LogFormat::Text)),
        }
    }
}

/// Where log lines go and how they look.
pub struct RuncLogLayer {
    out: Mutex<Box<dyn Write + Send>>,
    style: Style,
}

/// Install the global logger. `log` is the `--log` file (stderr when absent).
pub fn init(log: Option<&Path>, style: Style, debug: bool) -> std::io::Result<()> {
    let out: Box<dyn Write + Send> = match log {
        Some(path) => Box::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| {
                    std::io::Error::new(e.kind(), format!("open log file {}: {e}", path.display()))
                })?,
        ),
        None => Box::new(std::io::stderr()),
    };
    let level = if debug {
        LevelFilter::DEBUG
    } else {
        LevelFilter::WARN
    };
    let layer = RuncLogLayer {
        out: Mutex::new(out),
        style,
    }
    // libcgroups warns about every v1 controller the host lacks, on every call: noise.
    .with_filter(
        tracing_subscriber::filter::Targets::new()
            .with_default(level)
            .with_target(
                "libcgroups",
                if debug {
                    LevelFilter::DEBUG
                } else {
                    LevelFilter::ERROR
                },
            ),
    );
    detail::init();
    let subscriber = Registry::default().with(layer);
    // A second init (e.g. in unit tests) keeps the first logger.
    let _ = tracing::subscriber::set_global_default(subscriber);
    Ok(())
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

#[derive(Default)]
struct Fields {
    msg: String,
    extra: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.msg.push_str(value);
        } else {
            self.extra.push((field.name(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.msg, "{value:?}");
        } else {
            self.extra.push((field.name(), format!("{value:?}")));
        }
    }
}

/// Format one line (without the newline) the way runc's logrus does.
pub fn format_line(
    format: LogFormat,
    level: &str,
    msg: &str,
    extra: &[(&str, String)],
    time: &str,
) -> String {
    match format {
        LogFormat::Json => {
            let mut map = serde_json::Map::new();
            for (k, v) in extra {
                map.insert((*k).to_string(), serde_json::Value::String(v.clone()));
            }
            map.insert("level".into(), level.into());
            map.insert("msg".into(), msg.into());
            map.insert("time".into(), time.into());
            // logrus writes keys sorted (serde_json keeps insertion order: preserve_order).
            map.sort_keys();
            serde_json::Value::Object(map).to_string()
        }
        LogFormat::Text => {
            let mut line = format!("time={time:?} level={level} msg={msg:?}");
            for (k, v) in extra {
                let _ = write!(line, " {k}={v:?}");
            }
            line
        }
    }
}

/// A message for a person: `hardened: LEVEL: msg key=value ...`, the message as it is.
pub fn plain_line(level: &str, msg: &str, extra: &[(&str, String)]) -> String {
    let mut line = format!("hardened: {level}: {msg}");
    for (k, v) in extra {
        let _ = write!(line, " {k}={v}");
    }
    line
}

pub fn now_rfc3339() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

impl<S: Subscriber> Layer<S> for RuncLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let from_library = ["libcontainer", "libcgroups"]
            .iter()
            .any(|t| meta.target().starts_with(t));
        let mut level = level_name(meta.level());
        let msg = readable(&fields.msg);
        let extra: Vec<(&str, String)> = fields
            .extra
            .iter()
            .map(|(k, v)| (*k, crate::oneline::line(&readable(v), 2 * VALUE_MAX)))
            .collect();
        if from_library && *meta.level() == Level::ERROR {
            level = "warning";
            let err = extra
                .iter()
                .find(|(k, _)| *k == "err")
                .map(|(_, v)| v.as_str());
            detail::record(&msg, err);
        }
        let mut line = match self.style {
            Style::Logrus(format) => format_line(
                format,
                level,
                &crate::oneline::line(&msg, LINE_MAX),
                &extra,
                &now_rfc3339(),
            ),
            Style::Plain => plain_line(level, &msg, &extra),
        };
        line.push('\n');
        if let Ok(mut out) = self.out.lock() {
            // One write per line: the file is opened O_APPEND, so lines from forked
            // children of this process do not interleave.
            let _ = out.write_all(line.as_bytes());
            let _ = out.flush();
        }
    }
}

/// `msg` without Rust `Debug` output and libcontainer's repetitions: a `Mount { destination:
/// "/x", typ: Some("t"), .. }` becomes `/x (type t)`, nested wrappers such as
/// `Mount(Syscall(Nix(EINVAL)))` become `EINVAL`, `Some("x")` becomes `"x"`.
pub fn readable(msg: &str) -> String {
    let mut s = msg
        .replace(
            "exec process failed with error error in executing process : ",
            "",
        )
        .replace(": failed to create container: ", ": ");
    while let Some(at) = s.find("Mount { destination: ") {
        let Some(len) = debug_struct_len(&s[at..]) else {
            break;
        };
        let text = &s[at..at + len];
        let dest = debug_field(text, "destination: ").unwrap_or_default();
        let typ = debug_field(text, "typ: Some(");
        let short = match typ {
            Some(t) => format!("{dest} (type {t})"),
            None => dest,
        };
        s.replace_range(at..at + len, &short);
    }
    // Any other Debug struct (`Os { code: 2, kind: NotFound, message: "..." }`): its message,
    // else its errno name, else nothing.
    let mut from = 0;
    while let Some(at) = next_debug_struct(&s, from) {
        let Some(len) = debug_struct_len(&s[at..]) else {
            break;
        };
        let text = &s[at..at + len];
        let short = debug_field(text, "message: ")
            .or_else(|| errno_name(text))
            .unwrap_or_default();
        s.replace_range(at..at + len, &short);
        from = at + short.len();
    }
    unwrap_debug(&s)
}

/// Where the next `Name { ` of a Debug struct starts in `s`, from byte `from`.
fn next_debug_struct(s: &str, from: usize) -> Option<usize> {
    let mut search = from;
    while let Some(rel) = s.get(search..)?.find(" { ") {
        let brace = search + rel;
        let start = s[..brace]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        if start < brace && s[start..].starts_with(|c: char| c.is_ascii_uppercase()) {
            return Some(start);
        }
        search = brace + 3;
    }
    None
}

/// The first errno name (`EINVAL`, `ENOENT`) in `text`.
fn errno_name(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| w.len() >= 4 && w.starts_with('E') && w.chars().all(|c| c.is_ascii_uppercase()))
        .map(String::from)
}

/// The length of a `Name { ... }` Debug struct at the start of `s` (quotes respected).
fn debug_struct_len(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in s.char_indices() {
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '{' => depth += 1,
            '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// The Debug-quoted string after `key` in `text`, unquoted.
fn debug_field(text: &str, key: &str) -> Option<String> {
    let rest = &text[text.find(key)? + key.len()..];
    let mut de = serde_json::Deserializer::from_str(rest).into_iter::<String>();
    de.next()?.ok()
}

/// `A(B(C))` -> `C`, and `Some(x)` -> `x`, for wrappers named by a capitalised identifier.
fn unwrap_debug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        // The next `Ident(` that starts a word with a capital letter.
        let found = rest.char_indices().find(|&(i, c)| {
            c.is_ascii_uppercase()
                && (i == 0 || !rest[..i].ends_with(|p: char| p.is_alphanumeric() || p == '_'))
                && wrapper_at(&rest[i..]).is_some()
        });
        let Some((i, _)) = found else {
            out.push_str(rest);
            return out;
        };
        let (inner, len) = wrapper_at(&rest[i..]).unwrap_or(("", 0));
        out.push_str(&rest[..i]);
        out.push_str(inner);
        rest = &rest[i + len..];
    }
}

/// At the start of `s`, `Ident(Ident2(...(inner)...))` with `inner` free of parentheses:
/// (inner, length of the whole).
fn wrapper_at(s: &str) -> Option<(&str, usize)> {
    let mut pos = 0;
    let mut opened = 0;
    loop {
        let ident = s[pos..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len() - pos);
        let starts_upper = s[pos..].starts_with(|c: char| c.is_ascii_uppercase());
        if ident > 0 && starts_upper && s[pos + ident..].starts_with('(') {
            pos += ident + 1;
            opened += 1;
        } else {
            break;
        }
    }
    if opened == 0 {
        return None;
    }
    let inner_len = s[pos..].find([')', '('])?;
    if !s[pos + inner_len..].starts_with(')') {
        return None;
    }
    let closing = ")".repeat(opened);
    if !s[pos + inner_len..].starts_with(&closing) {
        return None;
    }
    let inner = &s[pos..pos + inner_len];
    if inner.is_empty() {
        return None;
    }
    Some((inner, pos + inner_len + opened))
}

/// The first error a container's process reported, shared with the runtime's process.
mod detail {
    use std::num::NonZeroUsize;
    use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
    use std::sync::OnceLock;

    const PAGE: usize = 4096;
    const HEAD: usize = 12;

    /// The shared page: three counters (state, length of the text, whether the text has an
    /// `err` field), then the text. Only ever accessed through atomics, in this process and in
    /// its forks (which share the page, `MAP_SHARED`).
    struct Shared {
        head: &'static [AtomicU32; 3],
        text: &'static [AtomicU8],
        pid: u32,
    }

    static SHARED: OnceLock<Option<Shared>> = OnceLock::new();

    /// A shared anonymous page, inherited by the forks libcontainer makes (and gone at their
    /// `execve`): no descriptor, nothing the container can reach.
    pub fn init() {
        SHARED.get_or_init(|| {
            use nix::sys::mman::{mmap_anonymous, MapFlags, ProtFlags};
            let len = NonZeroUsize::new(PAGE).unwrap_or(NonZeroUsize::MIN);
            // SAFETY: with no address hint the kernel places a new mapping where nothing is
            // mapped, so no memory Rust already uses changes.
            let page = unsafe {
                mmap_anonymous(
                    None,
                    len,
                    ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                    MapFlags::MAP_SHARED,
                )
            }
            .ok()?;
            let p = page.as_ptr().cast::<u8>();
            // SAFETY: the mapping is PAGE readable and writable bytes, zero-filled and
            // page-aligned (so aligned for AtomicU32), never unmapped (it lives as long as the
            // process: 'static); AtomicU32 and AtomicU8 have the size and alignment of u32 and u8,
            // for which every bit pattern is valid; [0, HEAD) and [HEAD, PAGE) do not overlap,
            // and nothing reaches the page other than through these shared references to atomics.
            let (head, text) = unsafe {
                (
                    &*p.cast::<[AtomicU32; 3]>(),
                    std::slice::from_raw_parts(p.add(HEAD).cast::<AtomicU8>(), PAGE - HEAD),
                )
            };
            Some(Shared {
                head,
                text,
                pid: std::process::id(),
            })
        });
    }

    fn shared() -> Option<&'static Shared> {
        SHARED.get()?.as_ref()
    }

    /// In a fork of the runtime: keep the first error message, and the first `err` field after
    /// it.
    pub fn record(msg: &str, err: Option<&str>) {
        let Some(s) = shared() else { return };
        if std::process::id() == s.pid {
            return;
        }
        let [state, len, has_err] = s.head;
        // 0: empty, 1: being written, 2: written.
        if state
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            let text = match err {
                Some(e) => format!("{msg}: {e}"),
                None => msg.to_string(),
            };
            let n = write_at(s, 0, &text);
            len.store(n as u32, Ordering::Release);
            has_err.store(err.is_some() as u32, Ordering::Release);
            state.store(2, Ordering::Release);
        } else if let Some(e) = err {
            if state.load(Ordering::Acquire) == 2
                && has_err
                    .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                let at = len.load(Ordering::Acquire) as usize;
                let n = write_at(s, at, &format!(": {e}"));
                len.store((at + n) as u32, Ordering::Release);
            }
        }
    }

    fn write_at(s: &Shared, at: usize, text: &str) -> usize {
        let room = (PAGE - HEAD).saturating_sub(at);
        let text = crate::oneline::clip(text, room);
        let n = text.len().min(room);
        for (slot, b) in s.text.iter().skip(at).zip(&text.as_bytes()[..n]) {
            slot.store(*b, Ordering::Relaxed);
        }
        n
    }

    /// The detail recorded by a fork of this process, if any.
    pub fn get() -> Option<String> {
        let s = shared()?;
        let [state, len, _] = s.head;
        if state.load(Ordering::Acquire) != 2 {
            return None;
        }
        let n = (len.load(Ordering::Acquire) as usize).min(PAGE - HEAD);
        let bytes: Vec<u8> = s.text[..n]
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// The first error a container's process (a fork of this one) reported, made readable.
pub fn child_detail() -> Option<String> {
    detail::get().map(|d| readable(&d))
}

/// The one line the user sees for a command's error `e`: the cause a container's process
/// reported appended when the error does not say it, no `Debug` output, at most
/// [`LINE_MAX`] bytes.
pub fn final_error(e: &anyhow::Error) -> String {
    crate::oneline::line(&error_text(e), LINE_MAX)
}

/// The message for a command's error `e` in the `style` of the log: [`final_error`]'s one line
/// for logrus lines, the whole text (its own lines kept) for a person.
pub fn error_message(e: &anyhow::Error, style: Style) -> String {
    match style {
        Style::Logrus(_) => final_error(e),
        Style::Plain => error_text(e),
    }
}

/// `e` without `Debug` output, with the cause a container's process reported appended when
/// the error does not say it.
fn error_text(e: &anyhow::Error) -> String {
    let mut msg = readable(&format!("{e:#}"));
    if let Some(d) = child_detail() {
        if !msg.contains(&d) {
            msg = format!("{msg}: {d}");
        }
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fork_reports_its_first_error_and_the_first_cause_after_it() {
        detail::init();
        // This process records nothing: only its forks do.
        detail::record("not kept", None);
        assert_eq!(detail::get(), None);
        // SAFETY: the child only formats its text (glibc's malloc resets its locks in the child
        // at a fork), stores it into the shared page through atomics and _exits; it takes no
        // other lock that another test's thread might have held at the fork.
        match unsafe { nix::unistd::fork() }.expect("fork") {
            nix::unistd::ForkResult::Child => {
                detail::record("first", None);
                detail::record("second", Some("the cause"));
                detail::record("third", Some("another cause"));
                // SAFETY: ends the forked child without running the parent's exit handlers.
                unsafe { libc::_exit(0) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                nix::sys::wait::waitpid(child, None).expect("wait");
            }
        }
        assert_eq!(detail::get().as_deref(), Some("first: the cause"));
    }

    #[test]
    fn json_line_has_runc_keys() {
        let line = format_line(
            LogFormat::Json,
            "error",
            "refused \"x\"",
            &[("id", "c1".into())],
            "2026-01-01T00:00:00Z",
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "refused \"x\"");
        assert_eq!(v["time"], "2026-01-01T00:00:00Z");
        assert_eq!(v["id"], "c1");
    }

    #[test]
    fn debug_output_is_made_readable() {
        assert_eq!(
            readable(
                r#"failed to mount Mount { destination: "/sys", typ: Some("sysfs"), source: Some("sysfs"), options: Some(["a}b", "ro"]), uid_mappings: None, gid_mappings: None }: syscall"#
            ),
            "failed to mount /sys (type sysfs): syscall"
        );
        assert_eq!(readable("Mount(Syscall(Nix(EINVAL)))"), "EINVAL");
        assert_eq!(
            readable(r#"x: Os { code: 2, kind: NotFound, message: "No such file or directory" }"#),
            "x: No such file or directory"
        );
        assert_eq!(
            readable(
                r#"e: Mount(Pathrs(Error(RawOsError { operation: "openat2 subpath", source: Openat2 { dirfd: FrozenFd(7, "/x"), errno: ENOENT } })))"#
            ),
            "e: ENOENT"
        );
        assert_eq!(readable("BaseChannelError(Nix(EBADF))"), "EBADF");
        assert_eq!(readable("x Some(\"y\") z"), "x \"y\" z");
        assert_eq!(
            readable("Quota (x) and Foo(a(b))"),
            "Quota (x) and Foo(a(b))"
        );
        assert_eq!(
            readable("create container x: failed to create container: exec process failed with error error in executing process : failed to prepare rootfs"),
            "create container x: failed to prepare rootfs"
        );
    }

    #[test]
    fn plain_line_keeps_the_message_whole() {
        let msg = "invalid policy file /p.toml: TOML parse error at line 3, column 1\n  |\n3 | x = 1\n  | ^";
        let line = plain_line("error", msg, &[("id", "c1".into())]);
        assert_eq!(line, format!("hardened: error: {msg} id=c1"));
        assert!(line.contains("\n  | ^"), "{line}");
    }

    #[test]
    fn a_log_file_or_a_format_keeps_logrus_lines() {
        // Whatever stderr is, --log or --log-format means logrus lines, as runc writes them.
        let f = Some(Path::new("/x.log"));
        assert_eq!(Style::of(f, None), Style::Logrus(LogFormat::Text));
        assert_eq!(
            Style::of(None, Some(LogFormat::Json)),
            Style::Logrus(LogFormat::Json)
        );
        assert_eq!(
            Style::of(f, Some(LogFormat::Text)),
            Style::Logrus(LogFormat::Text)
        );
    }

    #[test]
    fn text_line_is_logrus_shaped() {
        let line = format_line(LogFormat::Text, "warning", "a b", &[], "T");
        assert_eq!(line, "time=\"T\" level=warning msg=\"a b\"");
    }
}
