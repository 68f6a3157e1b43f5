//! runc-compatible logging.
//!
//! runc writes logrus lines: `time="..." level=error msg="..."` as text, or one JSON object per
//! line with `level`, `msg` and `time` when called with `--log-format json`. containerd's runc
//! shim reads the log file and shows the `msg` of the last `"level":"error"` line to the user
//! (`docker run` prints it as `OCI runtime create failed: <msg>`), so the shape matters.

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

/// Where log lines go and how they look.
pub struct RuncLogLayer {
    out: Mutex<Box<dyn Write + Send>>,
    format: LogFormat,
}

/// Install the global logger. `log` is the `--log` file (stderr when absent).
pub fn init(log: Option<&Path>, format: LogFormat, debug: bool) -> std::io::Result<()> {
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
        format,
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

pub fn now_rfc3339() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

impl<S: Subscriber> Layer<S> for RuncLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut line = format_line(
            self.format,
            level_name(event.metadata().level()),
            &fields.msg,
            &fields.extra,
            &now_rfc3339(),
        );
        line.push('\n');
        if let Ok(mut out) = self.out.lock() {
            // One write per line: the file is opened O_APPEND, so lines from forked
            // children of this process do not interleave.
            let _ = out.write_all(line.as_bytes());
            let _ = out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn text_line_is_logrus_shaped() {
        let line = format_line(LogFormat::Text, "warning", "a b", &[], "T");
        assert_eq!(line, "time=\"T\" level=warning msg=\"a b\"");
    }
}
