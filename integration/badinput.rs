//! Config mutations: a valid busybox config.json, changed by seeded mutations (wrong types,
//! missing keys, huge and negative numbers, absurd and huge paths, 10 MiB strings, unknown
//! namespaces and signals, ...), each run through `hardened create` and `delete --force`.
//!
//! Asserted for every mutation: no panic, no hang (every command has a hard timeout), nothing
//! left behind (state dir, shadow bundle, create's ledger, user-namespace range, cgroup dirs in
//! every hierarchy, mounts, processes), and every error is one line under 300 bytes that, for a type or shape
//! error, names the JSON path of the field.
//!
//! Bounded by counts, never timings: `HARDENED_MUTATIONS` mutations (200 by default) from seed
//! `HARDENED_MUTATION_SEED` (13 by default). `scripts/soak-mutations.sh` runs the long part.
//!
//! Safety: the runtime must never reach outside the test's own cgroup. The test's policies allow
//! only its own cgroup parent (`allowed_cgroup_parents = ["/hardened-badinput-<pid>"]`), and
//! every config that is created has a mount namespace of its own, no namespace path that exists,
//! its root filesystem in the test's temporary directory, and a `linux.cgroupsPath` that is
//! either under that parent (`/hardened-badinput-<pid>/<id>`) or, for a mutation of
//! `cgroupsPath` itself, one that `hardened check` showed the `cgroup-path` rule refuses. Any
//! other mutation only goes through `hardened check`, which creates nothing.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

const LINE_MAX: usize = 300;
const TIMEOUT: &str = "20";

/// splitmix64: a seeded generator with no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Seg {
    Key(String),
    Idx(usize),
}

fn path_text(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Idx(i) => {
                let _ = write!(s, "[{i}]");
            }
        }
    }
    s
}

fn all_paths(v: &Value, here: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                here.push(Seg::Key(k.clone()));
                out.push(here.clone());
                all_paths(c, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                here.push(Seg::Idx(i));
                out.push(here.clone());
                all_paths(c, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn get_mut<'a>(v: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    let mut cur = v;
    for seg in path {
        cur = match seg {
            Seg::Key(k) => cur.as_object_mut()?.get_mut(k)?,
            Seg::Idx(i) => cur.as_array_mut()?.get_mut(*i)?,
        };
    }
    Some(cur)
}

/// Set `path` (objects made on the way); false when a step is not an object.
fn set(v: &mut Value, path: &[&str], value: Value) -> bool {
    let mut cur = v;
    for (n, k) in path.iter().enumerate() {
        if cur.is_null() {
            *cur = json!({});
        }
        let Some(m) = cur.as_object_mut() else {
            return false;
        };
        if n + 1 == path.len() {
            m.insert(k.to_string(), value);
            return true;
        }
        cur = m.entry(k.to_string()).or_insert(json!({}));
    }
    false
}

fn huge(n: usize) -> String {
    "A".repeat(n)
}

fn odd_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1e308),
        json!(-1e308),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(""),
        json!("x"),
        json!([]),
        json!({}),
        json!([1, "two", null]),
        json!({"a": {"b": [1]}}),
    ]
}

fn odd_numbers() -> Vec<Value> {
    vec![
        json!(0),
        json!(-1),
        json!(-2),
        json!(i64::MIN),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(u32::MAX),
        json!(1e308),
        json!(-0.5),
        json!(65536),
        json!(4294967296u64),
    ]
}

fn odd_strings() -> Vec<String> {
    vec![
        huge(10 << 20),
        huge(5000),
        format!("/{}", "a".repeat(300)),
        format!("/{}", "a/".repeat(3000)),
        format!("/{}", "/".repeat(10_000)),
        String::new(),
        "../../../..".into(),
        "relative/path".into(),
        "/a\u{0}b".into(),
        "/x/../../../../y".into(),
        "//".into(),
        "/proc/self/fd/0".into(),
        "é".repeat(100),
        "a\nb\r\nc".into(),
        "\"quoted\" \\ backslash".into(),
        "/nonexistent-hardened-badinput".into(),
    ]
}

/// Paths for `linux.cgroupsPath` (run through `check` only).
fn odd_cgroup_paths() -> Vec<String> {
    vec![
        "/".into(),
        "//".into(),
        "/..".into(),
        "a/../..".into(),
        String::new(),
        "/".repeat(10_000),
        format!("/{}", huge(10 << 20)),
        "system.slice:hardened:x".into(),
        "relative".into(),
        "/a\u{0}b".into(),
        "/../../..".into(),
    ]
}

/// Interesting numeric fields and where they live.
const NUMERIC_FIELDS: &[&[&str]] = &[
    &["linux", "resources", "memory", "limit"],
    &["linux", "resources", "memory", "reservation"],
    &["linux", "resources", "memory", "swap"],
    &["linux", "resources", "memory", "swappiness"],
    &["linux", "resources", "pids", "limit"],
    &["linux", "resources", "cpu", "quota"],
    &["linux", "resources", "cpu", "period"],
    &["linux", "resources", "cpu", "shares"],
    &["linux", "resources", "blockIO", "weight"],
    &["process", "user", "uid"],
    &["process", "user", "gid"],
    &["process", "user", "umask"],
    &["process", "oomScoreAdj"],
    &["process", "consoleSize", "height"],
];

/// What to do with one mutated config.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Run {
    /// `create`, then `delete --force`.
    Create,
    /// `hardened check` only: the config could reach outside the test's own cgroup or root.
    CheckOnly,
}

struct Mutation {
    config: Value,
    what: String,
    /// The JSON path the mutation changed (for "does the error name the field").
    field: String,
    run: Run,
    /// A signal for `kill` when the create succeeds.
    signal: Option<String>,
}

fn mutate(rng: &mut Rng, base: &Value) -> Mutation {
    let mut v = base.clone();
    let mut run = Run::Create;
    let mut signal = None;
    let (what, field) = match rng.below(12) {
        0 | 1 => {
            // A node of another type.
            let mut paths = Vec::new();
            all_paths(&v, &mut Vec::new(), &mut paths);
            let p = rng.pick(&paths).clone();
            let new = rng.pick(&odd_values()).clone();
            if let Some(slot) = get_mut(&mut v, &p) {
                *slot = new.clone();
            }
            (
                format!("{} = {}", path_text(&p), short(&new)),
                path_text(&p),
            )
        }
        2 => {
            // A key removed.
            let mut paths = Vec::new();
            all_paths(&v, &mut Vec::new(), &mut paths);
            let keyed: Vec<_> = paths
                .into_iter()
                .filter(|p| matches!(p.last(), Some(Seg::Key(_))))
                .collect();
            let p = rng.pick(&keyed).clone();
            if let (Some(Seg::Key(k)), Some(parent)) =
                (p.last(), get_mut(&mut v, &p[..p.len() - 1]))
            {
                if let Some(m) = parent.as_object_mut() {
                    m.remove(k);
                }
            }
            (format!("remove {}", path_text(&p)), path_text(&p))
        }
        3 => {
            // A huge, negative or fractional number in a numeric field.
            let f = *rng.pick(NUMERIC_FIELDS);
            let n = rng.pick(&odd_numbers()).clone();
            set(&mut v, f, n.clone());
            (format!("{} = {n}", f.join(".")), f.join("."))
        }
        4 | 5 => {
            // An odd string in a string field.
            let mut paths = Vec::new();
            all_paths(&v, &mut Vec::new(), &mut paths);
            let strings: Vec<_> = paths
                .into_iter()
                .filter(|p| get_mut(&mut v.clone(), p).is_some_and(|x| x.is_string()))
                .collect();
            let p = rng.pick(&strings).clone();
            let s = rng.pick(&odd_strings()).clone();
            let text = path_text(&p);
            if let Some(slot) = get_mut(&mut v, &p) {
                *slot = json!(s);
            }
            (format!("{text} = {}", short(&json!(s))), text)
        }
        6 => {
            // A mount with an absurd destination, source, type or options.
            let dest = if rng.below(3) == 0 {
                "/mnt".to_string()
            } else {
                rng.pick(&odd_strings()).clone()
            };
            let typ = rng
                .pick(&["tmpfs", "bind", "proc", "bogusfs", "", "cgroup"])
                .to_string();
            let typ = if rng.below(8) == 0 {
                huge(10 << 20)
            } else {
                typ
            };
            let source = rng
                .pick(&["tmpfs", "/nonexistent-hardened-badinput", "", "proc"])
                .to_string();
            let source = if rng.below(8) == 0 {
                huge(10 << 20)
            } else {
                source
            };
            let options = match rng.below(7) {
                0 => json!(["ro"]),
                1 => json!(["size=banana"]),
                2 => json!(["rbind", "rw"]),
                3 => json!([huge(10 << 20)]),
                4 => json!(vec!["nosuid"; 5000]),
                5 => json!("ro"),
                _ => json!([1, 2]),
            };
            let mount =
                json!({"destination": dest, "type": typ, "source": source, "options": options});
            let n = v["mounts"].as_array().map_or(0, |a| a.len());
            if let Some(a) = v["mounts"].as_array_mut() {
                a.push(mount.clone());
            }
            (
                format!("mounts[{n}] += {}", short(&mount)),
                format!("mounts[{n}]"),
            )
        }
        7 => {
            // Unknown or duplicated namespaces.
            let n = v["linux"]["namespaces"].as_array().map_or(0, |a| a.len());
            let entry = match rng.below(5) {
                0 => json!({"type": "bogus"}),
                1 => json!({"type": huge(10 << 20)}),
                2 => json!({"type": "network"}),
                3 => json!({"type": "network", "path": "/nonexistent-hardened-badinput"}),
                _ => json!({"type": "time"}),
            };
            if let Some(a) = v["linux"]["namespaces"].as_array_mut() {
                a.push(entry.clone());
            }
            (
                format!("linux.namespaces[{n}] += {}", short(&entry)),
                format!("linux.namespaces[{n}]"),
            )
        }
        8 => {
            // The process: args and env of absurd sizes.
            let (field, val) = match rng.below(8) {
                0 => ("process.args", json!([])),
                1 => ("process.args", json!([""])),
                2 => ("process.args", json!(["true", huge(10 << 20)])),
                3 => ("process.args", json!(vec!["x"; 300_000])),
                4 => ("process.env", json!([format!("A={}", huge(3 << 20))])),
                5 => ("process.env", json!(["NOEQUALS", "=x"])),
                6 => ("process.cwd", json!(huge(10 << 20))),
                _ => ("process.cwd", json!("relative")),
            };
            let path: Vec<&str> = field.split('.').collect();
            set(&mut v, &path, val.clone());
            (format!("{field} = {}", short(&val)), field.to_string())
        }
        9 => {
            // Unknown names: capabilities, rlimits, seccomp, signals.
            let (field, path, val): (&str, Vec<&str>, Value) = match rng.below(5) {
                0 => (
                    "process.capabilities.bounding",
                    vec!["process", "capabilities", "bounding"],
                    json!(["CAP_FLY", huge(5000)]),
                ),
                1 => (
                    "process.rlimits",
                    vec!["process", "rlimits"],
                    json!([{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]),
                ),
                2 => (
                    "process.rlimits",
                    vec!["process", "rlimits"],
                    json!([{"type": "RLIMIT_NOFILE", "hard": 1, "soft": u64::MAX}]),
                ),
                3 => (
                    "linux.seccomp",
                    vec!["linux", "seccomp"],
                    json!({"defaultAction": "SCMP_ACT_BOGUS", "syscalls": [{"names": ["nosuchcall"], "action": "SCMP_ACT_ERRNO"}]}),
                ),
                _ => (
                    "linux.seccomp.syscalls",
                    vec!["linux", "seccomp"],
                    json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [huge(10 << 20)], "action": "SCMP_ACT_ERRNO"}]}),
                ),
            };
            set(&mut v, &path, val.clone());
            signal = Some(
                rng.pick(&[
                    "-1", "0", "99", "SIGFOO", "KILL9", "", "--", "-SIGKILL", "1e9",
                ])
                .to_string(),
            );
            (format!("{field} = {}", short(&val)), field.to_string())
        }
        10 => {
            // Odd values in other places the kernel reads.
            let (field, path, val): (&str, Vec<&str>, Value) = match rng.below(7) {
                0 => ("hostname", vec!["hostname"], json!(huge(10 << 20))),
                1 => ("domainname", vec!["domainname"], json!("x".repeat(65))),
                2 => (
                    "linux.uidMappings",
                    vec!["linux", "uidMappings"],
                    json!([{"containerID": 0, "hostID": u32::MAX, "size": u32::MAX}]),
                ),
                3 => (
                    "linux.maskedPaths",
                    vec!["linux", "maskedPaths"],
                    json!([huge(10 << 20)]),
                ),
                4 => (
                    "linux.devices",
                    vec!["linux", "devices"],
                    json!([{"path": huge(5000), "type": "c", "major": 1, "minor": 3}]),
                ),
                5 => (
                    "linux.resources.devices",
                    vec!["linux", "resources", "devices"],
                    json!([{"allow": true, "type": "z", "access": "rwmx"}]),
                ),
                _ => (
                    "process.user.additionalGids",
                    vec!["process", "user", "additionalGids"],
                    json!(vec![7; 70_000]),
                ),
            };
            set(&mut v, &path, val.clone());
            (format!("{field} = {}", short(&val)), field.to_string())
        }
        _ => {
            // cgroupsPath itself: `check` only (see the module's safety note).
            let p = rng.pick(&odd_cgroup_paths()).clone();
            set(&mut v, &["linux", "cgroupsPath"], json!(p));
            run = Run::CheckOnly;
            (
                format!("linux.cgroupsPath = {}", short(&json!(p))),
                "linux.cgroupsPath".into(),
            )
        }
    };
    Mutation {
        config: v,
        what,
        field,
        run,
        signal,
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        let mut end = 60;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}... ({} bytes)", &s[..end], s.len())
    } else {
        s
    }
}

/// Whether `config` may go through `create`: see the module's safety note.
fn safe_to_create(config: &Value, cgroups_path: &str, rootfs: &Path) -> bool {
    let linux = &config["linux"];
    if linux["cgroupsPath"].as_str() != Some(cgroups_path) {
        return false;
    }
    let Some(namespaces) = linux["namespaces"].as_array() else {
        return false;
    };
    let own_mount_ns = namespaces
        .iter()
        .any(|n| n["type"] == "mount" && n.get("path").is_none());
    let no_existing_path = namespaces.iter().all(|n| match n.get("path") {
        None => true,
        Some(Value::String(p)) => !Path::new(p).exists() && !p.is_empty(),
        Some(_) => true,
    });
    let root_ok = config["root"]["path"].as_str().is_some_and(|p| {
        !p.contains("..")
            && (p == rootfs.to_string_lossy()
                || !p.starts_with('/') && !p.is_empty() && p.len() < 4096
                || p == "/nonexistent-hardened-badinput")
    });
    let no_hooks = config.get("hooks").is_none();
    let no_sysctl = linux.get("sysctl").is_none();
    own_mount_ns && no_existing_path && root_ok && no_hooks && no_sysctl
}

/// One logrus line on stderr: (level, msg).
fn logrus(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix("time=\"")?;
    let (_, rest) = rest.split_once("\" level=")?;
    let (level, rest) = rest.split_once(' ')?;
    let msg = rest.strip_prefix("msg=")?;
    // msg is a Go-quoted string, possibly followed by key=value fields.
    let msg: String = serde_json::Deserializer::from_str(msg)
        .into_iter::<String>()
        .next()?
        .ok()?;
    Some((level.to_string(), msg))
}

#[derive(Default)]
struct Tally {
    runs: usize,
    created: usize,
    refused: usize,
    check_only: usize,
    panics: Vec<String>,
    hangs: Vec<String>,
    leftovers: Vec<String>,
    bad_errors: Vec<String>,
    unnamed_field: Vec<String>,
    kinds: BTreeMap<String, usize>,
    /// Errors that name neither the mutated field nor its key (reported, not asserted).
    samples: Vec<String>,
}

struct Env {
    dir: PathBuf,
    root: PathBuf,
    bundle: PathBuf,
    policies: [PathBuf; 2],
    parent: String,
    tag: String,
    hierarchies: Vec<PathBuf>,
}

struct Outcome {
    code: Option<i32>,
    signal: Option<i32>,
    stderr: String,
    stdout: String,
}

impl Env {
    fn hardened(&self, policy: usize, args: &[&str]) -> Outcome {
        use std::os::unix::process::ExitStatusExt;
        let mut c = Command::new("timeout");
        c.args(["-k", "5", TIMEOUT])
            .arg(common::hardened_bin())
            .arg("--root")
            .arg(&self.root)
            .arg("--policy")
            .arg(&self.policies[policy])
            .args(args)
            .env("HARDENED_BADINPUT_TAG", &self.tag)
            .env_remove("HARDENED_POLICY")
            // A private stdio: never the host's /dev/null or the test's terminal. Files, not
            // pipes: a created container's init keeps them open until it is deleted.
            .stdin(Stdio::piped())
            .stdout(self.stdio("stdout"))
            .stderr(self.stdio("stderr"));
        let mut child = c.spawn().expect("spawn timeout hardened");
        drop(child.stdin.take());
        let status = child.wait().expect("wait");
        let read = |name: &str| {
            String::from_utf8_lossy(&std::fs::read(self.dir.join(name)).unwrap_or_default())
                .into_owned()
        };
        Outcome {
            code: status.code(),
            signal: status.signal(),
            stderr: read("stderr"),
            stdout: read("stdout"),
        }
    }

    /// A fresh file for one command's output (a new inode each time: a container's init may
    /// still hold the previous one).
    fn stdio(&self, name: &str) -> std::fs::File {
        let path = self.dir.join(name);
        let _ = std::fs::remove_file(&path);
        std::fs::File::create(&path).expect("create stdio file")
    }

    /// What the runtime left of container `id`.
    fn leftovers(&self, id: &str) -> Vec<String> {
        let mut left = Vec::new();
        for p in [
            self.root.join(id),
            self.root.join(".bundles").join(id),
            self.root.join(".ledger").join(format!("{id}.json")),
        ] {
            if p.exists() {
                left.push(format!("state {}", p.display()));
            }
        }
        if let Ok(entries) = std::fs::read_dir(self.root.join(".userns")) {
            for e in entries.flatten() {
                left.push(format!("user-namespace range {}", e.path().display()));
            }
        }
        for h in &self.hierarchies {
            let parent = h.join(self.parent.trim_start_matches('/'));
            if let Ok(entries) = std::fs::read_dir(&parent) {
                for e in entries.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        left.push(format!("cgroup {}", e.path().display()));
                    }
                }
            }
        }
        let dir = self.dir.to_string_lossy().into_owned();
        if let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") {
            for l in info.lines().filter(|l| l.contains(&dir)) {
                left.push(format!("mount {l}"));
            }
        }
        let needle = format!("HARDENED_BADINPUT_TAG={}", self.tag);
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let name = e.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            if let Ok(env) = std::fs::read(e.path().join("environ")) {
                if env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
                    left.push(format!("process {pid}"));
                }
            }
        }
        left
    }

    fn cleanup_cgroups(&self) {
        for h in &self.hierarchies {
            let parent = h.join(self.parent.trim_start_matches('/'));
            if let Ok(entries) = std::fs::read_dir(&parent) {
                for e in entries.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        let _ = std::fs::remove_dir(e.path());
                    }
                }
            }
            let _ = std::fs::remove_dir(&parent);
        }
    }
}

/// The error lines of a failed command: problems with their shape, in `bad`.
fn judge_errors(out: &Outcome, label: &str, field: Option<&str>, t: &mut Tally) {
    let mut errors = Vec::new();
    for line in out.stderr.lines() {
        match logrus(line) {
            Some((level, msg)) => {
                // Warnings (libcontainer's details among them) are one short readable line too.
                if level != "error" && (msg.len() > LINE_MAX || has_debug_output(&msg)) {
                    t.bad_errors.push(format!(
                        "{label}: a {level} line of {} bytes or with Rust debug output: {}",
                        msg.len(),
                        clip(&msg)
                    ));
                }
                if level == "error" {
                    errors.push(msg);
                }
            }
            None => t.bad_errors.push(format!(
                "{label}: a stderr line that is not one log line: {}",
                clip(line)
            )),
        }
    }
    if out.code != Some(0) && errors.is_empty() {
        t.bad_errors.push(format!(
            "{label}: failed (exit {:?}) with no error line: {}",
            out.code,
            clip(&out.stderr)
        ));
    }
    if errors.len() > 1 {
        t.bad_errors.push(format!(
            "{label}: {} error lines: {}",
            errors.len(),
            clip(&errors.join(" | "))
        ));
    }
    for msg in &errors {
        if msg.len() > LINE_MAX {
            t.bad_errors.push(format!(
                "{label}: an error of {} bytes: {}",
                msg.len(),
                clip(msg)
            ));
        }
        if has_debug_output(msg) {
            t.bad_errors
                .push(format!("{label}: Rust debug output in: {}", clip(msg)));
        }
        // A type or shape error names the JSON path.
        if let Some(rest) = msg
            .split_once("invalid config.json: ")
            .or_else(|| msg.split_once("invalid config: "))
            .map(|(_, r)| r)
        {
            let names_path = rest
                .split_once(": ")
                .is_some_and(|(p, _)| !p.contains(' ') || p.starts_with("missing field"))
                || rest.starts_with("missing field");
            if !names_path {
                t.unnamed_field
                    .push(format!("{label}: names no JSON path: {}", clip(msg)));
            }
        } else if let Some(f) = field {
            // Other errors: counted (not asserted) when they name neither the field nor its key.
            let key = f.rsplit(['.', '[']).next().unwrap_or(f);
            let key = key.trim_end_matches(']');
            let first = f.split(['.', '[']).next().unwrap_or(f);
            if !msg.contains(f) && !msg.contains(key) && !msg.contains(first) {
                *t.kinds
                    .entry("error not naming the field".into())
                    .or_default() += 1;
                if t.samples.len() < 12 {
                    t.samples.push(format!("{label}: {}", clip(msg)));
                }
            }
        }
    }
}

/// Rust Debug output: `Mount { destination: ...`, `Nix(EINVAL)`, `Some("...")`.
fn has_debug_output(msg: &str) -> bool {
    [" { ", "Some(", "Nix(", "Syscall(", "Other(", "Error {"]
        .iter()
        .any(|p| msg.contains(p))
}

fn clip(s: &str) -> String {
    let one: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one.len() > 400 {
        let mut end = 400;
        while !one.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}... ({} bytes)", &one[..end], s.len())
    } else {
        one
    }
}

fn judge_crash(out: &Outcome, label: &str, t: &mut Tally) {
    if out.code == Some(124) || out.code == Some(137) || out.signal == Some(9) {
        t.hangs
            .push(format!("{label}: timed out after {TIMEOUT} s"));
    }
    if out.code == Some(101)
        || out.code == Some(134)
        || out.signal == Some(6)
        || out.signal == Some(11)
        || out.stderr.contains("panicked")
    {
        t.panics.push(format!(
            "{label}: exit {:?} signal {:?}: {}",
            out.code,
            out.signal,
            clip(&out.stderr)
        ));
    }
}

fn setup() -> (tempfile::TempDir, Env, Value) {
    common::require_root();
    let tmp = tempfile::Builder::new()
        .prefix("hardened-badinput-")
        .tempdir()
        .expect("temp dir");
    // Containers with a user namespace run as unprivileged host IDs: the bundle must be
    // reachable.
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o711),
    )
    .expect("chmod");
    let dir = tmp.path().to_path_buf();
    let bundle = dir.join("bundle");
    let out = common::run(
        Command::new(common::repo_root().join("scripts/mkbundle.sh"))
            .arg(&bundle)
            .arg("true")
            .env("HARDENED", common::hardened_bin()),
    );
    assert!(out.ok(), "mkbundle failed: {out:?}");
    let audit = dir.join("audit.log");
    let policies = [dir.join("enforce.toml"), dir.join("permissive.toml")];
    let pid = std::process::id();
    let parent = format!("/hardened-badinput-{pid}");
    let common = format!(
        "audit_log = {:?}\nallowed_cgroup_parents = [{parent:?}]\n",
        audit.display().to_string()
    );
    std::fs::write(&policies[0], &common).expect("write policy");
    std::fs::write(&policies[1], format!("mode = \"permissive\"\n{common}")).expect("write policy");
    let env = Env {
        root: dir.join("state"),
        bundle: bundle.clone(),
        policies,
        parent,
        tag: format!("{pid}-{}", dir.display()),
        hierarchies: common::cgroup_hierarchies(),
        dir,
    };
    let raw = std::fs::read(bundle.join("config.json")).expect("read config.json");
    let base: Value = serde_json::from_slice(&raw).expect("config.json");
    (tmp, env, base)
}

/// Run `count` mutations from `seed`; returns the tally.
fn run_mutations(seed: u64, count: usize) -> Tally {
    let (_tmp, env, mut base) = setup();
    base["process"]["terminal"] = json!(false);
    let mut rng = Rng(seed);
    let mut t = Tally::default();
    for i in 0..count {
        let id = format!("m{i}");
        let cgroups_path = format!("{}/{id}", env.parent);
        let mut b = base.clone();
        set(&mut b, &["linux", "cgroupsPath"], json!(cgroups_path));
        let m = mutate(&mut rng, &b);
        let mut config = m.config;
        // Safety: a config whose linux table went missing gets back only its cgroup path.
        if (config.get("linux").is_none() || config["linux"].is_null())
            && m.field != "linux.cgroupsPath"
        {
            set(&mut config, &["linux", "cgroupsPath"], json!(cgroups_path));
        }
        let mut run = if m.run == Run::CheckOnly
            || !safe_to_create(&config, &cgroups_path, &env.bundle.join("rootfs"))
        {
            Run::CheckOnly
        } else {
            Run::Create
        };
        let mut refused_cgroup = false;
        if m.field == "linux.cgroupsPath" {
            // Through create only when check shows the cgroup-path rule refuses it (nothing is
            // created), or when it lies under the test's own parent.
            let mut same = config.clone();
            set(&mut same, &["linux", "cgroupsPath"], json!(cgroups_path));
            let p = config["linux"]["cgroupsPath"].as_str().unwrap_or("");
            let under_parent = p.starts_with(&format!("{}/", env.parent))
                && !p.contains("..")
                && !p.contains('\0');
            if safe_to_create(&same, &cgroups_path, &env.bundle.join("rootfs")) {
                let raw = serde_json::to_vec(&config).expect("serialize");
                std::fs::write(env.bundle.join("config.json"), raw).expect("write config.json");
                let cfg = env.bundle.join("config.json");
                let out = env.hardened(i % 2, &["check", "--id", &id, &cfg.to_string_lossy()]);
                refused_cgroup = out.code == Some(1) && out.stdout.contains("[cgroup-path]");
                if refused_cgroup || under_parent {
                    run = Run::Create;
                }
            }
        }
        let label = format!("#{i} ({})", m.what);
        let raw = serde_json::to_vec(&config).expect("serialize");
        std::fs::write(env.bundle.join("config.json"), &raw).expect("write config.json");
        let policy = i % 2;
        t.runs += 1;
        match run {
            Run::CheckOnly => {
                t.check_only += 1;
                let cfg = env.bundle.join("config.json");
                let out = env.hardened(policy, &["check", "--id", &id, &cfg.to_string_lossy()]);
                judge_crash(&out, &label, &mut t);
                // check reports on stdout; a config it cannot evaluate is an error on stderr.
                if out.code != Some(0) && out.code != Some(1) || !out.stderr.is_empty() {
                    judge_errors(&out, &label, Some(&m.field), &mut t);
                }
                if out.stdout.len() > 64 * 1024 {
                    t.bad_errors
                        .push(format!("{label}: check printed {} bytes", out.stdout.len()));
                }
            }
            Run::Create => {
                let bundle = env.bundle.to_string_lossy().into_owned();
                let out = env.hardened(policy, &["create", "--bundle", &bundle, &id]);
                judge_crash(&out, &label, &mut t);
                if refused_cgroup && (out.code == Some(0) || !out.stderr.contains("cgroup-path")) {
                    t.bad_errors.push(format!(
                        "{label}: check refused the cgroup path, create did not: {}",
                        clip(&out.stderr)
                    ));
                }
                if out.code == Some(0) {
                    t.created += 1;
                    if let Some(sig) = &m.signal {
                        let k = env.hardened(policy, &["kill", &id, sig]);
                        judge_crash(&k, &format!("{label} kill {sig:?}"), &mut t);
                        if k.code != Some(0) {
                            judge_errors(&k, &format!("{label} kill {sig:?}"), None, &mut t);
                        }
                    }
                } else {
                    t.refused += 1;
                    judge_errors(&out, &label, Some(&m.field), &mut t);
                }
                let d = env.hardened(policy, &["delete", "--force", &id]);
                judge_crash(&d, &format!("{label} delete"), &mut t);
                for l in env.leftovers(&id) {
                    t.leftovers.push(format!("{label}: {l}"));
                }
            }
        }
    }
    t
}

impl Drop for Env {
    /// Whatever is left (reported as leftovers) goes, and the test's cgroups in every hierarchy,
    /// pass, fail or panic.
    fn drop(&mut self) {
        for e in std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                let _ = self.hardened(1, &["delete", "--force", &name]);
            }
        }
        self.cleanup_cgroups();
    }
}

fn report(t: &Tally, seed: u64, count: usize) -> String {
    let mut s = format!(
        "{count} mutations (seed {seed}): {} created, {} failed create, {} check only; \
         panics {}, hangs {}, leftovers {}, bad error lines {}, type errors naming no JSON path {}, {:?}\n",
        t.created,
        t.refused,
        t.check_only,
        t.panics.len(),
        t.hangs.len(),
        t.leftovers.len(),
        t.bad_errors.len(),
        t.unnamed_field.len(),
        t.kinds
    );
    for l in &t.samples {
        let _ = writeln!(s, "  (not naming the field) {l}");
    }
    for l in t
        .panics
        .iter()
        .chain(&t.hangs)
        .chain(&t.leftovers)
        .chain(&t.bad_errors)
        .chain(&t.unnamed_field)
        .take(60)
    {
        let _ = writeln!(s, "  {l}");
    }
    s
}

#[test]
fn config_mutations_fail_cleanly() {
    let seed = std::env::var("HARDENED_MUTATION_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(13);
    let count = std::env::var("HARDENED_MUTATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let t = run_mutations(seed, count);
    let summary = report(&t, seed, count);
    eprintln!("{summary}");
    if let Some(out) = std::env::var_os("HARDENED_MUTATION_REPORT") {
        let _ = std::fs::write(out, &summary);
    }
    assert_eq!(t.runs, count);
    assert!(
        t.panics.is_empty()
            && t.hangs.is_empty()
            && t.leftovers.is_empty()
            && t.bad_errors.is_empty()
            && t.unnamed_field.is_empty(),
        "{summary}"
    );
}

/// `hardened ARGS` with a private stdio; (exit code, stderr).
fn plain(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let out = Command::new(common::hardened_bin())
        .args(args)
        .env_remove("HARDENED_POLICY")
        .stdin(Stdio::piped())
        .output()
        .expect("run hardened");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn one_error_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "not one line: {stderr}");
    let (level, msg) = logrus(lines[0]).unwrap_or_else(|| panic!("not a log line: {stderr}"));
    assert_eq!(level, "error", "{stderr}");
    assert!(msg.len() <= LINE_MAX, "{msg}");
    msg
}

#[test]
fn bad_signals_and_a_file_as_root_are_one_line() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("state");
    for sig in ["-1", "-SIGKILL", "SIGFOO", "99", &"X".repeat(10_000)] {
        let (code, err) = plain(&[
            "--root".as_ref(),
            root.as_os_str(),
            "kill".as_ref(),
            "c1".as_ref(),
            sig.as_ref(),
        ]);
        assert_eq!(code, Some(1), "{sig}: {err}");
        let msg = one_error_line(&err);
        assert!(msg.starts_with("unknown signal"), "{msg}");
        assert!(msg.contains(&sig[..sig.len().min(8)]), "{msg}");
    }
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "").expect("write");
    let (code, err) = plain(&[
        "--root".as_ref(),
        file.as_os_str(),
        "state".as_ref(),
        "c1".as_ref(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    let msg = one_error_line(&err);
    assert!(msg.contains("is not a directory"), "{msg}");
}

#[test]
fn policy_validate_rejects_what_create_rejects() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let audit = tmp.path().join("audit.log");
    for (body, key) in [
        ("[defaults]\nscratch_size = \"banana\"\n", "scratch_size"),
        (
            "[user_namespace]\nsubid_user = \"hardened-no-such-user\"\n",
            "subid_user",
        ),
    ] {
        let file = tmp.path().join("policy.toml");
        std::fs::write(
            &file,
            format!("audit_log = {:?}\n{body}", audit.display().to_string()),
        )
        .expect("write policy");
        let (code, err) = plain(&["policy".as_ref(), "validate".as_ref(), file.as_os_str()]);
        assert_eq!(code, Some(1), "{body}: {err}");
        let msg = one_error_line(&err);
        assert!(
            msg.contains(&file.display().to_string()) && msg.contains(key),
            "{msg}"
        );
        // create refuses it the same way, before anything is made.
        let root = tmp.path().join("state");
        let (code, err) = plain(&[
            "--root".as_ref(),
            root.as_os_str(),
            "--policy".as_ref(),
            file.as_os_str(),
            "create".as_ref(),
            "--bundle".as_ref(),
            tmp.path().as_os_str(),
            "c1".as_ref(),
        ]);
        assert_eq!(code, Some(1), "{err}");
        assert!(one_error_line(&err).contains(key), "{err}");
        assert!(!root.join("c1").exists());
    }
}
