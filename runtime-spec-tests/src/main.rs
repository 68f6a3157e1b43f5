//! runtime-spec-tests: an OCI runtime-spec conformance suite for runc-compatible runtimes.
//!
//! Every case builds a bundle from a static busybox root filesystem, drives the lifecycle
//! through the runtime's command line (create/start/state/kill/delete) and checks one sentence
//! of the specification (runtime.md, config.md, config-linux.md, runtime-linux.md) from inside
//! the container and from the host.
//!
//! ```text
//! runtime-spec-tests [--runtime PATH] [--runtime-arg ARG]... [--filter SUBSTR]... [--list]
//!                    [--jobs 1|2] [--crun-hybrid-workaround | --no-crun-hybrid-workaround]
//!                    [--verbose]
//! ```

mod cases;
mod harness;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use cases::Case;
use harness::{Ctx, Host, Kind, Runtime, Skip, INTERRUPTED};

struct Opts {
    runtime: Option<PathBuf>,
    runtime_args: Vec<String>,
    filters: Vec<String>,
    list: bool,
    jobs: usize,
    crun_hybrid: Option<bool>,
    verbose: bool,
    known_failures: Option<PathBuf>,
}

const USAGE: &str = "usage: runtime-spec-tests [--runtime PATH] [--runtime-arg ARG]... [--filter SUBSTR]... [--list]
                          [--jobs 1|2] [--crun-hybrid-workaround|--no-crun-hybrid-workaround] [--verbose]

  --runtime PATH        the runtime to test (default: the hardened binary next to this one, or
                        target/release/hardened), run in permissive mode with a policy file the
                        suite writes in its temporary directory
  --runtime-arg ARG     a global flag for the runtime, before the command (repeatable); when
                        given, no policy file is added for hardened
  --filter SUBSTR       run only cases whose name contains SUBSTR (repeatable: any of them)
  --list                list the cases and the sentence of the specification each checks
  --known-failures FILE cases (one name a line, # comments) expected to fail: reported as xfail,
                        not failed; a listed case that passes fails the run
  --jobs N              run N cases at a time (1 or 2; default 1)
  --crun-hybrid-workaround
                        run the runtime in a private mount namespace with /sys/fs/cgroup/unified
                        unmounted (crun 1.8.1 refuses a hybrid cgroup layout); automatic for a
                        runtime named crun on a hybrid host
  --verbose             print the specification sentence under every failure
";

fn parse_args() -> Result<Opts> {
    let mut o = Opts {
        runtime: None,
        runtime_args: Vec::new(),
        filters: Vec::new(),
        known_failures: None,
        list: false,
        jobs: 1,
        crun_hybrid: None,
        verbose: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = |name: &str| -> Result<String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it
                    .next()
                    .with_context(|| format!("{name} needs a value\n{USAGE}")),
            }
        };
        match flag.as_str() {
            "--runtime" => o.runtime = Some(PathBuf::from(value("--runtime")?)),
            "--runtime-arg" => o.runtime_args.push(value("--runtime-arg")?),
            "--filter" => o.filters.push(value("--filter")?),
            "--jobs" | "-j" => {
                o.jobs = value("--jobs")?.parse().context("--jobs takes a number")?;
                if !(1..=2).contains(&o.jobs) {
                    bail!("--jobs: 1 or 2");
                }
            }
            "--list" => o.list = true,
            "--known-failures" => {
                o.known_failures = Some(PathBuf::from(value("--known-failures")?))
            }
            "--crun-hybrid-workaround" => o.crun_hybrid = Some(true),
            "--no-crun-hybrid-workaround" => o.crun_hybrid = Some(false),
            "--verbose" | "-v" => o.verbose = true,
            "--help" | "-h" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            _ => bail!("unknown argument {a:?}\n{USAGE}"),
        }
    }
    Ok(o)
}

fn default_runtime() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        if let Some(d) = exe.parent() {
            candidates.push(d.join("hardened"));
        }
    }
    candidates.push(PathBuf::from("target/release/hardened"));
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/hardened"));
    candidates.into_iter().find(|p| p.is_file())
}

fn kind_of(path: &Path) -> Kind {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    if name.starts_with("hardened") {
        Kind::Hardened
    } else if name.starts_with("runc") {
        Kind::Runc
    } else if name.starts_with("crun") {
        Kind::Crun
    } else {
        Kind::Other
    }
}

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

fn matches(c: &Case, filters: &[String]) -> bool {
    filters.is_empty() || filters.iter().any(|f| c.name.contains(f.as_str()))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Pass,
    Fail,
    Skip,
    /// A failure listed in --known-failures (a documented deviation).
    KnownFail,
}

fn run_case(rt: &Runtime, host: &Host, index: usize, c: &Case) -> (Outcome, String) {
    let mut ctx = match Ctx::new(rt, host, index) {
        Ok(x) => x,
        Err(e) => return (Outcome::Fail, format!("FAIL - {}: setup: {e:#}", c.name)),
    };
    let r = (c.run)(&mut ctx);
    ctx.cleanup();
    match r {
        Ok(()) => (Outcome::Pass, format!("ok - {}", c.name)),
        Err(e) => {
            if let Some(s) = e.downcast_ref::<Skip>() {
                (Outcome::Skip, format!("skip - {}: {}", c.name, s.0))
            } else {
                let msg = format!("{e:#}").replace('\n', " | ");
                (Outcome::Fail, format!("FAIL - {}: {msg}", c.name))
            }
        }
    }
}

fn main() {
    match real_main() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("runtime-spec-tests: {e:#}");
            std::process::exit(2);
        }
    }
}

fn real_main() -> Result<i32> {
    let opts = parse_args()?;
    let all = cases::all();
    {
        let mut names = std::collections::HashSet::new();
        for c in &all {
            if !names.insert(c.name) {
                bail!("duplicate case name {}", c.name);
            }
        }
    }
    let selected: Vec<&Case> = all.iter().filter(|c| matches(c, &opts.filters)).collect();
    let known: std::collections::HashSet<String> = match &opts.known_failures {
        None => Default::default(),
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("read --known-failures {}", path.display()))?
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
            .filter(|l| !l.is_empty())
            .collect(),
    };
    if let Some(bad) = known
        .iter()
        .find(|k| !all.iter().any(|c| c.name == k.as_str()))
    {
        bail!("--known-failures names a case that does not exist: {bad}");
    }
    if opts.list {
        for c in &selected {
            println!("{}\n    spec: {}", c.name, c.spec);
        }
        println!("{} cases", selected.len());
        return Ok(0);
    }
    if !nix::unistd::geteuid().is_root() {
        bail!("the suite creates containers, cgroups and mounts: run it as root");
    }

    let path = match &opts.runtime {
        Some(p) => p.clone(),
        None => default_runtime().context(
            "no runtime given and no hardened binary found (cargo build --release, or --runtime PATH)",
        )?,
    };
    let path = if path.components().count() == 1 && !path.exists() {
        // A bare name: look it up in PATH.
        let found = std::env::var_os("PATH").and_then(|ps| {
            std::env::split_paths(&ps)
                .map(|d| d.join(&path))
                .find(|p| p.is_file())
        });
        found.unwrap_or(path)
    } else {
        path
    };
    let path = std::fs::canonicalize(&path)
        .with_context(|| format!("runtime {} not found", path.display()))?;
    let kind = kind_of(&path);

    let base = tempfile::Builder::new()
        .prefix("runtime-spec-tests.")
        .tempdir()?
        .keep();
    let result = run_all(&opts, &path, kind, &base, &selected, &known);
    harness::remove_tree(&base);
    result
}

fn run_all(
    opts: &Opts,
    path: &Path,
    kind: Kind,
    base: &Path,
    selected: &[&Case],
    known: &std::collections::HashSet<String>,
) -> Result<i32> {
    let host = Host::new(base.to_path_buf())?;
    let root = base.join("state");
    std::fs::create_dir_all(&root)?;

    let mut global = opts.runtime_args.clone();
    if kind == Kind::Hardened && opts.runtime_args.is_empty() {
        let policy = base.join("policy.toml");
        std::fs::write(
            &policy,
            format!(
                "mode = \"permissive\"\naudit_log = \"{}\"\n",
                base.join("audit.log").display()
            ),
        )?;
        global.push("--policy".into());
        global.push(policy.display().to_string());
    }
    let hybrid = !host.cgroup.v1.is_empty()
        && host
            .cgroup
            .unified
            .as_ref()
            .map(|u| u.ends_with("unified"))
            .unwrap_or(false);
    let crun_hybrid = opts.crun_hybrid.unwrap_or(kind == Kind::Crun && hybrid);
    let rt = Runtime {
        path: path.to_path_buf(),
        kind,
        global,
        root,
        crun_hybrid,
        timeout: Duration::from_secs(30),
    };
    eprintln!("# runtime: {}", rt.describe());
    eprintln!("# {} cases", selected.len());

    // SAFETY: `on_signal` only stores to an atomic, which is async-signal-safe; nothing else in
    // the process installs handlers for these signals.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }

    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    let out = Mutex::new(());
    std::thread::scope(|s| {
        for _ in 0..opts.jobs {
            s.spawn(|| loop {
                if INTERRUPTED.load(Ordering::SeqCst) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(c) = selected.get(i) else { return };
                let (mut o, mut line) = run_case(&rt, &host, i, c);
                if known.contains(c.name) {
                    match o {
                        Outcome::Fail => {
                            o = Outcome::KnownFail;
                            line = line.replacen("FAIL - ", "xfail - ", 1);
                        }
                        Outcome::Pass => {
                            // Fixed: the list must say so (a pass of a listed case fails the run).
                            o = Outcome::Fail;
                            line = format!("FAIL - {}: passes, but is listed in --known-failures: remove it from the list", c.name);
                        }
                        _ => {}
                    }
                }
                let _g = out.lock().unwrap_or_else(|e| e.into_inner());
                let mut so = std::io::stdout().lock();
                let _ = writeln!(so, "{line}");
                if o == Outcome::Fail && opts.verbose {
                    let _ = writeln!(so, "#   spec: {}", c.spec);
                }
                let _ = so.flush();
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((i, o));
            });
        }
    });
    host.remove_cgroups();

    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let count = |w: Outcome| results.iter().filter(|(_, o)| *o == w).count();
    let (p, f, k) = (
        count(Outcome::Pass),
        count(Outcome::Fail),
        count(Outcome::Skip),
    );

    // Per-area summary on stderr (stdout is one line per case and the final line).
    let mut areas: Vec<(String, [usize; 3])> = Vec::new();
    let mut sorted = results.clone();
    sorted.sort_by_key(|(i, _)| *i);
    for (i, o) in &sorted {
        let area = selected[*i]
            .name
            .split('/')
            .next()
            .unwrap_or("")
            .to_string();
        let idx = match areas.iter().position(|(a, _)| *a == area) {
            Some(x) => x,
            None => {
                areas.push((area, [0; 3]));
                areas.len() - 1
            }
        };
        let slot = match o {
            Outcome::Pass => 0,
            Outcome::Fail => 1,
            Outcome::Skip | Outcome::KnownFail => 2,
        };
        areas[idx].1[slot] += 1;
    }
    eprintln!("# area: passed failed skipped");
    for (a, [ap, af, ak]) in &areas {
        eprintln!("# {a}: {ap} {af} {ak}");
    }
    eprintln!("# {:.1}s", started.elapsed().as_secs_f64());
    if INTERRUPTED.load(Ordering::SeqCst) {
        eprintln!(
            "# interrupted: {} cases not run",
            selected.len() - results.len()
        );
    }
    let x = count(Outcome::KnownFail);
    if x > 0 {
        println!("# {x} known failures (listed with --known-failures; see docs/conformance.md)");
    }
    println!("{p} passed, {f} failed, {k} skipped");
    Ok(if f > 0 || INTERRUPTED.load(Ordering::SeqCst) {
        1
    } else {
        0
    })
}
