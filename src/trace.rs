//! The kernel's event tracing (tracefs), as learn mode uses it: a trace instance of its own per
//! container (its own ring buffer, its own events and pid filter), never the host's top-level
//! trace buffer, which other tools own.
//!
//! tracefs is used where the host mounted it (`/sys/kernel/tracing`); on a host without it, the
//! caller mounts it in a mount namespace of its own ([`Tracefs::mount_private`]), so nothing
//! changes in the host's mount table. An instance is the kernel's, not ours: whoever makes one
//! removes it ([`Instance::remove`]), or it outlives the container.
//!
//! The events read here (`trace_pipe`, one line each) look like
//!
//! ```text
//!           nginx-4242    [001] .....  1234.567890: cap_capable: cred 000000001, target_ns 0000002, capable_ns 000003, cap 0, ret 0
//!           nginx-4242    [001] .....  1234.567891: sys_enter: NR 257 (ffffff9c, 7ffd, 241, 1b6, 0, 0)
//!              sh-4243    [000] .....  1234.567892: sched_process_exec: filename=/bin/sh pid=4243 old_pid=4243
//! ```

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Where hosts mount tracefs.
pub const TRACEFS: &str = "/sys/kernel/tracing";
/// `statfs` magic of tracefs.
const TRACEFS_MAGIC: i64 = 0x7472_6163;

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("tracefs: {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("this kernel has no trace event {0} (tracefs events/{0}): learn mode needs it; `hardened doctor` lists what the kernel offers")]
    NoEvent(String),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> TraceError {
    let what = what.into();
    move |source| TraceError::Io { what, source }
}

/// A tracefs mount.
#[derive(Debug, Clone)]
pub struct Tracefs {
    root: PathBuf,
}

/// Whether `path` is a tracefs mount.
fn is_tracefs(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .map(|s| s.filesystem_type() == nix::sys::statfs::FsType(TRACEFS_MAGIC as _))
        .unwrap_or(false)
}

impl Tracefs {
    /// The host's tracefs, when mounted at [`TRACEFS`].
    pub fn host() -> Option<Tracefs> {
        is_tracefs(Path::new(TRACEFS)).then(|| Tracefs {
            root: PathBuf::from(TRACEFS),
        })
    }

    /// The host's tracefs, or one mounted at [`TRACEFS`] in this process's private mount
    /// namespace (entered here if it has none yet: `userns::idmap::private_mount_namespace`, a
    /// slave of the host's, so nothing reaches the host's mount table). The process must be
    /// single-threaded when it has to enter one.
    pub fn reach() -> Result<Tracefs, TraceError> {
        use nix::mount::{mount, MsFlags};
        if let Some(t) = Self::host() {
            return Ok(t);
        }
        crate::userns::idmap::private_mount_namespace().map_err(|e| TraceError::Io {
            what: "enter a private mount namespace for tracefs".into(),
            source: io::Error::other(format!("{e:#}")),
        })?;
        if !is_tracefs(Path::new(TRACEFS)) {
            mount(
                Some("tracefs"),
                TRACEFS,
                Some("tracefs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                None::<&str>,
            )
            .map_err(|e| io_err(format!("mount tracefs on {TRACEFS} (privately)"))(e.into()))?;
        }
        Ok(Tracefs {
            root: PathBuf::from(TRACEFS),
        })
    }

    /// A tracefs at `root` (tests, and a caller that mounted one itself).
    pub fn at(root: &Path) -> Tracefs {
        Tracefs {
            root: root.to_path_buf(),
        }
    }

    /// Whether the kernel has the event `group/name`.
    pub fn has_event(&self, event: &str) -> bool {
        self.root.join("events").join(event).join("enable").exists()
    }

    /// The instance `name`; one left by an earlier run of the same name is removed first.
    pub fn instance(&self, name: &str) -> Result<Instance, TraceError> {
        let dir = self.root.join("instances").join(name);
        if dir.exists() {
            Instance { dir: dir.clone() }.remove()?;
        }
        fs::create_dir(&dir).map_err(io_err(format!("create trace instance {}", dir.display())))?;
        Ok(Instance { dir })
    }

    /// The instance `name` if it exists (to remove one that its recorder left).
    pub fn existing(&self, name: &str) -> Option<Instance> {
        let dir = self.root.join("instances").join(name);
        dir.exists().then_some(Instance { dir })
    }
}

/// A trace instance.
#[derive(Debug)]
pub struct Instance {
    dir: PathBuf,
}

impl Instance {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Write `value` to the instance's file `file` (e.g. `buffer_size_kb`, `options/event-fork`).
    pub fn set(&self, file: &str, value: &str) -> Result<(), TraceError> {
        let path = self.dir.join(file);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .map_err(io_err(format!("open {}", path.display())))?;
        f.write_all(value.as_bytes())
            .map_err(io_err(format!("write {value:?} to {}", path.display())))
    }

    /// Add `value` to the instance's file `file` (`set_event_pid`: one more pid to follow).
    pub fn append(&self, file: &str, value: &str) -> Result<(), TraceError> {
        let path = self.dir.join(file);
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_err(format!("open {}", path.display())))?;
        f.write_all(value.as_bytes())
            .map_err(io_err(format!("add {value:?} to {}", path.display())))
    }

    /// Read the instance's file `file`.
    pub fn get(&self, file: &str) -> Result<String, TraceError> {
        let path = self.dir.join(file);
        fs::read_to_string(&path).map_err(io_err(format!("read {}", path.display())))
    }

    /// Enable the event `group/name`, with `filter` (the kernel's filter syntax) if given.
    pub fn enable(&self, event: &str, filter: Option<&str>) -> Result<(), TraceError> {
        if !self.dir.join("events").join(event).exists() {
            return Err(TraceError::NoEvent(event.to_string()));
        }
        if let Some(f) = filter {
            self.set(&format!("events/{event}/filter"), f)?;
        }
        self.set(&format!("events/{event}/enable"), "1")
    }

    /// Replace the filter of an enabled event.
    pub fn filter(&self, event: &str, filter: &str) -> Result<(), TraceError> {
        self.set(&format!("events/{event}/filter"), filter)
    }

    /// The instance's event stream (consuming reads: what is read is gone from the buffer).
    pub fn pipe(&self, nonblocking: bool) -> Result<fs::File, TraceError> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.dir.join("trace_pipe");
        let flags = if nonblocking { libc::O_NONBLOCK } else { 0 };
        fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags | libc::O_CLOEXEC)
            .open(&path)
            .map_err(io_err(format!("open {}", path.display())))
    }

    /// Disable its events and remove the instance. The kernel refuses while a reader holds a
    /// file of it open, so the caller closes its pipe first; a few retries cover a reader that
    /// is just closing.
    pub fn remove(self) -> Result<(), TraceError> {
        let _ = self.set("tracing_on", "0");
        let _ = self.set("events/enable", "0");
        let mut last = None;
        for _ in 0..20 {
            match fs::remove_dir(&self.dir) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => last = Some(e),
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let e = last.unwrap_or_else(|| io::Error::other("unknown"));
        Err(io_err(format!(
            "remove trace instance {}",
            self.dir.display()
        ))(e))
    }
}

/// One event of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    /// The task's `comm` (as the kernel last saw it; `<...>` when it was not saved).
    pub comm: &'a str,
    /// The thread id.
    pub pid: i32,
    /// The event's name (`cap_capable`, `sys_enter`, `sched_process_exec`, ...).
    pub name: &'a str,
    /// What follows the name: the event's fields as the kernel prints them.
    pub fields: &'a str,
}

/// Parse one line of `trace_pipe`; `None` for lines that are not events (e.g. the kernel's
/// `CPU:1 [LOST 12 EVENTS]`).
pub fn parse_line(line: &str) -> Option<Event<'_>> {
    // "<comm>-<pid> [<cpu>] <flags> <timestamp>: <name>: <fields>": the comm may hold anything,
    // so the task is found as what precedes the first " [NNN] " whose inside is a CPU number.
    let mut search = 0;
    let (task, rest) = loop {
        let open = line[search..].find(" [")? + search;
        let close = line[open..].find("] ")? + open;
        let cpu = &line[open + 2..close];
        if !cpu.is_empty() && cpu.bytes().all(|b| b.is_ascii_digit()) {
            break (line[..open].trim(), &line[close + 2..]);
        }
        search = open + 2;
    };
    let dash = task.rfind('-')?;
    let pid = task[dash + 1..].parse().ok()?;
    let comm = &task[..dash];
    // "<flags> <timestamp>: <name>: <fields>"
    let after_ts = rest.find(": ")? + 2;
    let rest = &rest[after_ts..];
    let (name, fields) = match rest.find(": ") {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => (rest.trim_end(), ""),
    };
    Some(Event {
        comm,
        pid,
        name,
        fields: fields.trim_end(),
    })
}

/// The value of `key` in an event's fields printed as `key value, key value` or `key=value`.
pub fn field<'a>(fields: &'a str, key: &str) -> Option<&'a str> {
    for part in fields.split([',', ' ']) {
        if let Some(v) = part.strip_prefix(key).and_then(|v| v.strip_prefix('=')) {
            return Some(v);
        }
    }
    // "cap 21, ret 0": the key, a space, the value.
    let mut words = fields.split([',', ' ']).filter(|w| !w.is_empty());
    while let Some(w) = words.next() {
        if w == key {
            return words.next();
        }
    }
    None
}

/// The syscall number of a `sys_enter` event (`NR 257 (...)`).
pub fn syscall_nr(fields: &str) -> Option<i64> {
    fields.strip_prefix("NR ")?.split(' ').next()?.parse().ok()
}

/// The arguments of a `sys_enter` event (`NR 105 (21, 0, ...)`: the kernel prints them in hex);
/// empty when the line has none.
pub fn syscall_args(fields: &str) -> Vec<u64> {
    let Some(open) = fields.find('(') else {
        return Vec::new();
    };
    let inside = &fields[open + 1..];
    let inside = inside.find(')').map_or(inside, |close| &inside[..close]);
    inside
        .split(',')
        .map_while(|a| u64::from_str_radix(a.trim(), 16).ok())
        .collect()
}

/// The count of a `CPU:N [LOST M EVENTS]` line of trace_pipe (the kernel's buffer was full).
pub fn lost_events(line: &str) -> Option<u64> {
    let rest = line.trim().strip_prefix("CPU:")?;
    let rest = &rest[rest.find("[LOST ")? + 6..];
    rest.split(' ').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_event_lines_are_counted() {
        assert_eq!(lost_events("CPU:1 [LOST 42 EVENTS]"), Some(42));
        assert_eq!(lost_events("  CPU:0 [LOST 7 EVENTS]\n"), Some(7));
        assert_eq!(
            lost_events("sh-12 [000] ..... 1.0: cap_capable: cap=0"),
            None
        );
    }

    #[test]
    fn events_parse_whatever_the_comm_holds() {
        let l = "           nginx-4242    [001] .....  1234.567890: cap_capable: cred 000000001, target_ns 0000002, capable_ns 000003, cap 21, ret -1";
        let e = parse_line(l).expect("parsed");
        assert_eq!((e.comm, e.pid, e.name), ("nginx", 4242, "cap_capable"));
        assert_eq!(field(e.fields, "cap"), Some("21"));
        assert_eq!(field(e.fields, "ret"), Some("-1"));

        let l = " my-app [x] 2-17 [000] d..1. 99.000001: sys_enter: NR 257 (ffffff9c, 7ffd, 241, 1b6, 0, 0)";
        let e = parse_line(l).expect("parsed");
        assert_eq!((e.comm, e.pid, e.name), ("my-app [x] 2", 17, "sys_enter"));
        assert_eq!(syscall_nr(e.fields), Some(257));
        assert_eq!(
            syscall_args(e.fields),
            vec![0xffffff9c, 0x7ffd, 0x241, 0x1b6, 0, 0]
        );
        assert_eq!(syscall_args("NR 105"), Vec::<u64>::new());
        assert_eq!(syscall_args("NR 105 (zz, 1)"), Vec::<u64>::new());

        let l = "              sh-4243    [000] .....  1234.567892: sched_process_exec: filename=/bin/sh pid=4243 old_pid=4243";
        let e = parse_line(l).expect("parsed");
        assert_eq!(field(e.fields, "filename"), Some("/bin/sh"));
        assert_eq!(field(e.fields, "old_pid"), Some("4243"));

        let l = "              sh-9385    [001] ..... 61289.770691: sys_enter: NR 273 (7f2a238b5a20, 18, 0, 7f2a238b5a10, 0, 2731207065656c)";
        let e = parse_line(l).expect("parsed");
        assert_eq!((e.comm, e.pid), ("sh", 9385));
        assert_eq!(syscall_nr(e.fields), Some(273));

        assert_eq!(parse_line("CPU:1 [LOST 12 EVENTS]"), None);
        assert_eq!(parse_line(""), None);
    }
}
