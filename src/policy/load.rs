//! Loading the operator's policy file (TOML).
//!
//! A missing *default* file means the built-in defaults; a file given with `--policy` must
//! exist. A malformed file or an unknown key is an error naming the file, line and key, never a
//! silent fallback.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Mode, Policy, ProfileSource, Rules};

pub const DEFAULT_POLICY_PATH: &str = "/etc/hardened/policy.toml";

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    // The I/O error is in the message, not a `source`: error chains (`{:#}`) would print it twice.
    #[error("cannot read the policy file {path}: {error}{}", read_hint(.chosen))]
    Read {
        path: PathBuf,
        error: std::io::Error,
        /// The file is the policy in force (`--policy`, `$HARDENED_POLICY` or the default),
        /// not a file named as an argument (`policy validate FILE`): the message says how to
        /// name another.
        chosen: bool,
    },
    #[error("invalid policy file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The file's top-level keys. Parsed twice: first with `T = Rules`, every table typed, so that
/// errors carry the line and key; then with `T = toml::Table`, the tables as written, to let a
/// profile inherit the operator's [defaults].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File<T> {
    version: Option<i64>,
    #[serde(default)]
    mode: Mode,
    audit_log: Option<PathBuf>,
    learn_dir: Option<PathBuf>,
    hints: Option<bool>,
    default_profile: Option<String>,
    #[serde(default)]
    profile_dirs: Vec<PathBuf>,
    #[serde(default)]
    builtin_profiles: Vec<String>,
    #[serde(default)]
    user_namespace: super::UsernsPool,
    #[serde(default)]
    allowed_cgroup_parents: Vec<String>,
    #[serde(default)]
    defaults: T,
    #[serde(default)]
    profiles: BTreeMap<String, T>,
}

fn read_hint(chosen: &bool) -> &'static str {
    if *chosen {
        " (name another with --policy or $HARDENED_POLICY)"
    } else {
        ""
    }
}

fn invalid(path: &Path, message: impl Into<String>) -> LoadError {
    LoadError::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// A file of a `profile_dirs` directory, or a learned profile: `[profiles.NAME]` tables only.
/// Parsed twice, as [`File`] is.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile<T> {
    #[serde(default)]
    profiles: BTreeMap<String, T>,
}

/// Read the seccomp profile `rules.seccomp_profile` names (relative to `base`).
fn load_seccomp(
    rules: &mut Rules,
    base: &Path,
    policy: &Path,
    table: &str,
) -> Result<(), LoadError> {
    let Some(file) = &rules.seccomp_profile else {
        return Ok(());
    };
    let full = base.join(file);
    let text = std::fs::read_to_string(&full).map_err(|e| {
        invalid(
            policy,
            format!(
                "in {table}: seccomp_profile = {file:?}: cannot read {}: {e}",
                full.display()
            ),
        )
    })?;
    let profile: oci_spec::runtime::LinuxSeccomp =
        serde_json::from_str(&text).map_err(|e| {
            invalid(
                policy,
                format!(
                    "in {table}: seccomp_profile = {file:?}: {} is not an OCI linux.seccomp object: {e}",
                    full.display()
                ),
            )
        })?;
    rules.seccomp_profile = Some(full);
    rules.seccomp_loaded = Some(super::LoadedSeccomp(profile));
    Ok(())
}

/// Read the profiles of one profile file (a file of a `profile_dirs` directory, or a learned
/// profile in the `learn_dir`). Each is `defaults` with the keys it sets replaced, exactly as a
/// profile of the policy file is; a relative `seccomp_profile` it sets is beside `file`.
/// `role` says in error messages what the file is ("a file of profile_dirs of POLICY").
pub fn read_profile_file(
    file: &Path,
    defaults: &Rules,
    role: &str,
) -> Result<BTreeMap<String, Rules>, LoadError> {
    profiles_of_file(file, defaults).map_err(|e| match e {
        LoadError::Invalid { path, message } => LoadError::Invalid {
            path,
            message: format!("{message} ({role})"),
        },
        other => other,
    })
}

fn profiles_of_file(file: &Path, defaults: &Rules) -> Result<BTreeMap<String, Rules>, LoadError> {
    let text =
        std::fs::read_to_string(file).map_err(|e| invalid(file, format!("cannot read it: {e}")))?;
    let only = |e: toml::de::Error| {
        invalid(
            file,
            format!(
                "{}; a profile file may hold only [profiles.NAME] tables",
                e.to_string().trim_end()
            ),
        )
    };
    // Typed first, for the line and key of a bad value.
    toml::from_str::<ProfileFile<Rules>>(&text).map_err(only)?;
    let tables: ProfileFile<toml::Table> = toml::from_str(&text).map_err(only)?;
    let base = match toml::Value::try_from(defaults) {
        Ok(toml::Value::Table(t)) => t,
        _ => {
            return Err(invalid(
                file,
                "the policy's [defaults] cannot be rendered as a table",
            ))
        }
    };
    let dir = file.parent().unwrap_or(Path::new("/"));
    let mut out = BTreeMap::new();
    for (name, table) in tables.profiles {
        let where_ = format!("[profiles.{name}]");
        if name.is_empty() {
            return Err(invalid(file, "a profile needs a non-empty name"));
        }
        let own_seccomp = table.contains_key("seccomp_profile");
        let mut merged = base.clone();
        merged.extend(table);
        let mut rules = Rules::deserialize(merged)
            .map_err(|e| invalid(file, format!("in {where_}: {}", e.to_string().trim_end())))?;
        if own_seccomp {
            load_seccomp(&mut rules, dir, file, &where_)?;
        } else {
            // Inherited from [defaults], already read.
            rules.seccomp_loaded = defaults.seccomp_loaded.clone();
        }
        validate_rules(&where_, &rules, file)?;
        out.insert(name, rules);
    }
    Ok(out)
}

/// Where the profiles of a policy come from, gathered while it is loaded.
struct Profiles {
    rules: BTreeMap<String, Rules>,
    sources: BTreeMap<String, ProfileSource>,
    /// The policy file, for messages.
    policy: PathBuf,
}

impl Profiles {
    /// Add `name` from `source`; a name defined before is an error naming both places.
    fn add(&mut self, name: String, rules: Rules, source: ProfileSource) -> Result<(), LoadError> {
        let policy = self.policy.display().to_string();
        if let Some(first) = self.sources.get(&name) {
            let (here, msg_path) = match &source {
                ProfileSource::File(f) => (source.describe(&policy), f.clone()),
                _ => (source.describe(&policy), self.policy.clone()),
            };
            return Err(invalid(
                &msg_path,
                format!(
                    "[profiles.{name}] is defined twice: in {} and in {here}; a profile name may be defined once: rename or remove one of them",
                    first.describe(&policy)
                ),
            ));
        }
        self.rules.insert(name.clone(), rules);
        self.sources.insert(name, source);
        Ok(())
    }

    /// Add the profiles of every `*.toml` file directly in `dir` (a `profile_dirs` entry).
    fn include_dir(&mut self, dir: &Path, defaults: &Rules) -> Result<(), LoadError> {
        if !dir.is_absolute() {
            return Err(invalid(
                &self.policy,
                format!("profile_dirs: {dir:?} is not an absolute path (give a directory such as \"/etc/hardened/profiles.d\")"),
            ));
        }
        let entries = std::fs::read_dir(dir).map_err(|e| {
            invalid(
                &self.policy,
                format!("profile_dirs: cannot read {}: {e} (make the directory, or remove it from profile_dirs)", dir.display()),
            )
        })?;
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        let role = format!("a file of profile_dirs of {}", self.policy.display());
        for f in files {
            for (name, rules) in read_profile_file(&f, defaults, &role)? {
                self.add(name, rules, ProfileSource::File(f.clone()))?;
            }
        }
        Ok(())
    }

    /// Add the built-in profiles the policy enables.
    fn add_builtins(&mut self, names: &[String], defaults: &Rules) -> Result<(), LoadError> {
        for (i, name) in names.iter().enumerate() {
            let Some(b) = super::builtin::find(name) else {
                return Err(invalid(
                    &self.policy,
                    format!(
                        "builtin_profiles: unknown built-in profile {} (the built-in profiles: {}; docs/policy.md says what each grants)",
                        crate::oneline::value(name),
                        super::builtin::known()
                    ),
                ));
            };
            if names[..i].contains(name) {
                return Err(invalid(
                    &self.policy,
                    format!("builtin_profiles: {name:?} is listed twice: list it once"),
                ));
            }
            if let Some(first) = self.sources.get(name) {
                return Err(invalid(
                    &self.policy,
                    format!(
                        "builtin_profiles: {name:?} clashes with [profiles.{name}] of {}: rename that profile, or remove {name:?} from builtin_profiles",
                        first.describe(&self.policy.display().to_string())
                    ),
                ));
            }
            self.add(name.clone(), b.rules(defaults), ProfileSource::Builtin)?;
        }
        Ok(())
    }
}

/// Parse policy text (`path` names it in messages, and is where a relative `seccomp_profile`
/// is), reading the files it names: `seccomp_profile` files and `profile_dirs`.
pub fn parse(text: &str, path: &Path) -> Result<Policy, LoadError> {
    toml::from_str::<File<Rules>>(text).map_err(|e| invalid(path, e.to_string().trim_end()))?;
    let file: File<toml::Table> =
        toml::from_str(text).map_err(|e| invalid(path, e.to_string().trim_end()))?;
    // The defaults: built-in values with the keys of [defaults] replaced.
    let mut defaults: Rules = Rules::deserialize(file.defaults.clone())
        .map_err(|e| invalid(path, format!("in [defaults]: {}", e.to_string().trim_end())))?;
    // Where a relative seccomp_profile is: beside the file that names it.
    let here = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    load_seccomp(&mut defaults, &here, path, "[defaults]")?;
    let mut profiles = Profiles {
        rules: BTreeMap::new(),
        sources: BTreeMap::new(),
        policy: path.to_path_buf(),
    };
    for (name, table) in file.profiles {
        if name.is_empty() {
            return Err(invalid(path, "a profile needs a non-empty name"));
        }
        // A profile: the defaults (as the operator wrote them) with its own keys replaced.
        let mut merged = file.defaults.clone();
        for (k, v) in table {
            merged.insert(k, v);
        }
        let mut rules = Rules::deserialize(merged).map_err(|e| {
            invalid(
                path,
                format!("in [profiles.{name}]: {}", e.to_string().trim_end()),
            )
        })?;
        load_seccomp(&mut rules, &here, path, &format!("[profiles.{name}]"))?;
        profiles.add(name, rules, ProfileSource::Policy)?;
    }
    // Rules are checked before other files inherit them, so that an error names this file.
    validate_rules("[defaults]", &defaults, path)?;
    for dir in &file.profile_dirs {
        profiles.include_dir(dir, &defaults)?;
    }
    profiles.add_builtins(&file.builtin_profiles, &defaults)?;
    let policy = Policy {
        version: version(file.version, path)?,
        mode: file.mode,
        audit_log: file
            .audit_log
            .unwrap_or_else(|| Policy::default().audit_log),
        learn_dir: file
            .learn_dir
            .unwrap_or_else(|| Policy::default().learn_dir),
        hints: file.hints.unwrap_or(true),
        default_profile: file.default_profile,
        profile_dirs: file.profile_dirs,
        builtin_profiles: file.builtin_profiles,
        source: Some(path.to_path_buf()),
        profile_sources: profiles.sources,
        user_namespace: file.user_namespace,
        allowed_cgroup_parents: file.allowed_cgroup_parents,
        defaults,
        profiles: profiles.rules,
    };
    validate(&policy, path)?;
    Ok(policy)
}

/// The `version` key: one this binary knows (none: the newest).
fn version(v: Option<i64>, path: &Path) -> Result<u32, LoadError> {
    let Some(v) = v else {
        return Ok(super::CURRENT_POLICY_VERSION);
    };
    match u32::try_from(v) {
        Ok(v) if super::POLICY_VERSIONS.contains(&v) => Ok(v),
        _ => {
            let known: Vec<String> = super::POLICY_VERSIONS.iter().map(u32::to_string).collect();
            Err(invalid(
                path,
                format!(
                    "version = {v}: this hardened ({}) knows policy version(s) {}; set `version = {}` (or remove the key for the newest), or install a hardened that knows version {v}",
                    env!("CARGO_PKG_VERSION"),
                    known.join(", "),
                    super::CURRENT_POLICY_VERSION
                ),
            ))
        }
    }
}

fn validate(p: &Policy, path: &Path) -> Result<(), LoadError> {
    if let Some(name) = &p.default_profile {
        if !p.profiles.contains_key(name) {
            return Err(invalid(
                path,
                format!(
                    "default_profile = {name:?} names no profile of the policy (defined: {}): add a [profiles.{name}] table, here or in a file of profile_dirs",
                    p.profile_names().unwrap_or_else(|| "none".into())
                ),
            ));
        }
    }
    if !p.learn_dir.is_absolute() {
        return Err(invalid(
            path,
            format!(
                "learn_dir: {:?} is not an absolute path (give a directory such as \"{}\")",
                p.learn_dir,
                super::DEFAULT_LEARN_DIR
            ),
        ));
    }
    validate_cgroup_parents(&p.allowed_cgroup_parents, path)?;
    validate_userns_pool(&p.user_namespace, path)?;
    // The defaults and the files of profile_dirs were checked as they were read; built-in
    // profiles are the defaults with known capabilities added.
    let own = p
        .profiles
        .iter()
        .filter(|(n, _)| p.profile_sources.get(*n) == Some(&ProfileSource::Policy));
    for (name, r) in own {
        validate_rules(&format!("[profiles.{name}]"), r, path)?;
    }
    Ok(())
}

/// Each entry a cgroup path below the hierarchy root, or a systemd slice.
fn validate_cgroup_parents(parents: &[String], path: &Path) -> Result<(), LoadError> {
    for parent in parents {
        let is_slice = parent.ends_with(".slice") && !parent.contains('/');
        let parts: Vec<&str> = parent
            .split('/')
            .filter(|s| !s.is_empty() && *s != ".")
            .collect();
        if !is_slice && (parts.is_empty() || parts.contains(&"..")) {
            return Err(invalid(
                path,
                format!("allowed_cgroup_parents: {parent:?} is not a cgroup parent below the hierarchy root (give paths such as \"/docker\" or \"/kubepods\", or systemd slices such as \"kubepods.slice\")"),
            ));
        }
    }
    Ok(())
}

/// The `[user_namespace]` pool: a range of host IDs that fits, or a subid user create can use.
fn validate_userns_pool(pool: &super::UsernsPool, path: &Path) -> Result<(), LoadError> {
    if pool.subid_user.is_none()
        && (pool.ranges == 0
            || pool.start < 65536
            || (pool.start as u64) + (pool.ranges as u64) * 65536 > u32::MAX as u64)
    {
        return Err(invalid(
            path,
            format!("in [user_namespace]: start ({}) must be at least 65536 and start + ranges * 65536 must fit in 32 bits, with ranges ({}) at least 1", pool.start, pool.ranges),
        ));
    }
    if let Some(user) = &pool.subid_user {
        // What create would do with it (read /etc/subuid and /etc/subgid): a policy that
        // validates is one create accepts.
        if let Err(e) = crate::userns::alloc::pool_of(pool) {
            let why = match e {
                crate::userns::alloc::AllocError::Io { error, .. } => error.to_string(),
                other => other.to_string(),
            };
            return Err(invalid(
                path,
                format!(
                    "in [user_namespace]: subid_user {}: {why}: add a range of at least 65536 IDs for this user to both /etc/subuid and /etc/subgid, or remove subid_user to use start and ranges",
                    crate::oneline::value(user)
                ),
            ));
        }
    }
    Ok(())
}

/// One table of rules (`[defaults]` or a profile), named `table` in messages.
fn validate_rules(table: &str, r: &Rules, path: &Path) -> Result<(), LoadError> {
    for cap in &r.allow_capabilities {
        if super::rules::capabilities::parse_cap(cap.trim()).is_none() {
            return Err(invalid(
                path,
                format!("in {table}: allow_capabilities: unknown capability {cap:?} (use names such as \"NET_BIND_SERVICE\")"),
            ));
        }
    }
    for ns in &r.allow_host_namespaces {
        if !["pid", "network", "ipc", "uts", "mount"].contains(&ns.as_str()) {
            return Err(invalid(
                path,
                format!("in {table}: allow_host_namespaces: unknown namespace {ns:?} (one of \"pid\", \"network\", \"ipc\", \"uts\", \"mount\")"),
            ));
        }
    }
    if r.pids_limit <= 0 || r.pids_max <= 0 || r.pids_limit > r.pids_max {
        return Err(invalid(
            path,
            format!("in {table}: pids_limit ({}) and pids_max ({}) must be positive, with pids_limit <= pids_max", r.pids_limit, r.pids_max),
        ));
    }
    if !is_tmpfs_size(&r.scratch_size) {
        return Err(invalid(
            path,
            format!(
                "in {table}: scratch_size {} is not a tmpfs size: give a number of bytes with an optional k, m or g suffix (\"64m\"), or a percentage of RAM (\"10%\")",
                crate::oneline::value(&r.scratch_size)
            ),
        ));
    }
    for m in r
        .scratch_mounts
        .iter()
        .chain(&r.allow_mounts)
        .chain(&r.allow_devices)
    {
        if !m.is_absolute() {
            return Err(invalid(
                path,
                format!("in {table}: {} is not an absolute path", m.display()),
            ));
        }
    }
    Ok(())
}

/// tmpfs's `size=`: a number with an optional binary suffix (the kernel's memparse), or a
/// percentage of RAM.
fn is_tmpfs_size(s: &str) -> bool {
    let digits = s.trim_end_matches([
        'k', 'K', 'm', 'M', 'g', 'G', 't', 'T', 'p', 'P', 'e', 'E', '%',
    ]);
    let suffix = &s[digits.len()..];
    !digits.is_empty()
        && digits.len() <= 19
        && digits.bytes().all(|b| b.is_ascii_digit())
        && suffix.len() <= 1
}

/// Load the file at `path`, named with `--policy` (an error says how to name another).
pub fn load_file(path: &Path) -> Result<Policy, LoadError> {
    read(path, true)
}

/// Load the file at `path`, given as a command's argument (`policy validate FILE`).
pub fn load_argument(path: &Path) -> Result<Policy, LoadError> {
    read(path, false)
}

fn read(path: &Path, chosen: bool) -> Result<Policy, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|error| LoadError::Read {
        path: path.to_path_buf(),
        error,
        chosen,
    })?;
    parse(&text, path)
}

/// The environment variable that names the policy file when `--policy` is not given (for
/// callers that cannot pass arguments, e.g. a shim given only a binary path).
pub const POLICY_ENV: &str = "HARDENED_POLICY";

/// Load the policy: `explicit` (from `--policy`, else `$HARDENED_POLICY`) must exist; the
/// default file may be absent.
pub fn load(explicit: Option<&Path>) -> Result<Policy, LoadError> {
    let from_env = std::env::var_os(POLICY_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    match explicit.map(Path::to_path_buf).or(from_env) {
        Some(p) => load_file(&p),
        None => {
            let p = Path::new(DEFAULT_POLICY_PATH);
            match std::fs::read_to_string(p) {
                Ok(text) => parse(&text, p),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Policy::default()),
                Err(error) => Err(LoadError::Read {
                    path: p.to_path_buf(),
                    error,
                    chosen: true,
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Policy, LoadError> {
        parse(text, Path::new("/etc/hardened/test.toml"))
    }

    /// The message of the error `text` must give.
    fn err_of(text: &str) -> String {
        match p(text) {
            Ok(_) => panic!("{text:?} is accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn empty_file_is_the_defaults() {
        let pol = p("").unwrap();
        assert_eq!(pol.defaults, Rules::default());
        assert_eq!(pol.mode, Mode::Enforce);
    }

    #[test]
    fn profiles_inherit_defaults_and_override() {
        let pol = p(r#"
mode = "audit"
[defaults]
pids_limit = 100
[profiles.web]
allow_capabilities = ["NET_BIND_SERVICE"]
"#)
        .unwrap();
        assert_eq!(pol.mode, Mode::Audit);
        let web = &pol.profiles["web"];
        assert_eq!(web.pids_limit, 100);
        assert_eq!(web.allow_capabilities, vec!["NET_BIND_SERVICE".to_string()]);
        assert!(pol.defaults.allow_capabilities.is_empty());
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = err_of("mode = \"enforce\"\n[defaults]\nallow_caps = []\n");
        assert!(err.contains("/etc/hardened/test.toml"), "{err}");
        assert!(err.contains("allow_caps"), "{err}");
        let err = err_of("[defaults]\npids_limit = \"many\"\n");
        assert!(err.contains("line 2"), "{err}");
        let err = p("[profiles.x]\nbogus = 1\n").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("bogus"), "{err}");
        let err = p("colour = 1\n").unwrap_err().to_string();
        assert!(err.contains("colour") && err.contains("line 1"), "{err}");
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(p("mode = \"lenient\"\n").is_err());
        assert!(p("[defaults]\nallow_capabilities = [\"FLY\"]\n").is_err());
        assert!(p("[defaults]\npids_limit = 10\npids_max = 5\n").is_err());
        assert!(p("[defaults]\nallow_host_namespaces = [\"time\"]\n").is_err());
        assert!(p("[defaults]\nscratch_mounts = [\"tmp\"]\n").is_err());
    }

    #[test]
    fn what_create_refuses_does_not_validate() {
        let err = err_of("[defaults]\nscratch_size = \"banana\"\n");
        assert!(
            err.contains("test.toml") && err.contains("scratch_size \"banana\""),
            "{err}"
        );
        let err = err_of("[profiles.x]\nscratch_size = \"12q\"\n");
        assert!(err.contains("[profiles.x]"), "{err}");
        for ok in ["64m", "1G", "1048576", "10%", "0"] {
            p(&format!("[defaults]\nscratch_size = \"{ok}\"\n")).expect(ok);
        }
        for bad in ["", "m", "-1m", "1mm", "1.5g", "64 m"] {
            assert!(
                p(&format!("[defaults]\nscratch_size = \"{bad}\"\n")).is_err(),
                "{bad}"
            );
        }
        let err = err_of("[user_namespace]\nsubid_user = \"hardened-no-such-user\"\n");
        assert!(
            err.contains("subid_user \"hardened-no-such-user\"") && err.contains("/etc/subuid"),
            "{err}"
        );
    }

    #[test]
    fn the_version_key() {
        assert_eq!(
            p("").unwrap().version,
            crate::policy::CURRENT_POLICY_VERSION
        );
        assert_eq!(p("version = 1\n").unwrap().version, 1);
        for bad in [
            "version = 2",
            "version = 0",
            "version = -1",
            "version = 99999999999",
        ] {
            let err = err_of(bad);
            assert!(
                err.contains("test.toml")
                    && err.contains("knows policy version(s) 1")
                    && err.contains("set `version = 1`"),
                "{err}"
            );
        }
        let err = err_of("version = \"1\"\n");
        assert!(err.contains("version") && err.contains("line 1"), "{err}");
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let err = load(Some(Path::new("/nonexistent/policy.toml"))).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/policy.toml"));
    }

    #[test]
    fn profile_dirs_and_seccomp_profiles() {
        let d = tempfile::tempdir().expect("tempdir");
        let dir = d.path().join("learned");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::write(
            dir.join("app.toml"),
            "[profiles.app]\nallow_capabilities = [\"CHOWN\"]\nseccomp_profile = \"app.seccomp.json\"\n",
        )
        .expect("write");
        std::fs::write(
            dir.join("app.seccomp.json"),
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}"#,
        )
        .expect("write");
        let policy_file = d.path().join("policy.toml");
        let text = format!(
            "profile_dirs = [{:?}]\n[defaults]\npids_limit = 77\n",
            dir.display().to_string()
        );
        let pol = parse(&text, &policy_file).expect("loads");
        let app = &pol.profiles["app"];
        assert_eq!(app.allow_capabilities, vec!["CHOWN".to_string()]);
        assert_eq!(app.pids_limit, 77, "inherits [defaults]");
        assert_eq!(
            app.seccomp_profile.as_deref(),
            Some(dir.join("app.seccomp.json").as_path())
        );
        assert!(app.seccomp_loaded.is_some());

        // Defined twice: an error naming the file.
        let twice = format!("{text}[profiles.app]\npids_limit = 5\n");
        let err = parse(&twice, &policy_file).unwrap_err().to_string();
        assert!(
            err.contains("defined twice") && err.contains("app.toml"),
            "{err}"
        );
        // A missing seccomp file: an error naming the key and the file.
        std::fs::remove_file(dir.join("app.seccomp.json")).expect("rm");
        let err = parse(&text, &policy_file).unwrap_err().to_string();
        assert!(
            err.contains("seccomp_profile") && err.contains("app.seccomp.json"),
            "{err}"
        );
        // Anything but profiles in an included file: an error.
        std::fs::write(dir.join("app.toml"), "mode = \"audit\"\n").expect("write");
        let err = parse(&text, &policy_file).unwrap_err().to_string();
        assert!(
            err.contains("app.toml") && err.contains("only [profiles.NAME]"),
            "{err}"
        );
        // A relative directory.
        let err = parse("profile_dirs = [\"learned\"]\n", &policy_file)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an absolute path"), "{err}");
    }

    #[test]
    fn learn_dir_is_an_absolute_path() {
        assert_eq!(
            p("").unwrap().learn_dir,
            PathBuf::from(crate::policy::DEFAULT_LEARN_DIR)
        );
        assert_eq!(
            p("learn_dir = \"/srv/learned\"\n").unwrap().learn_dir,
            PathBuf::from("/srv/learned")
        );
        let err = err_of("learn_dir = \"learned\"\n");
        assert!(
            err.contains("learn_dir") && err.contains("not an absolute path"),
            "{err}"
        );
        assert_eq!(p("mode = \"learn\"\n").unwrap().mode, Mode::Learn);
    }

    #[test]
    fn builtin_profiles_are_enabled_by_name() {
        let pol = p("builtin_profiles = [\"drop-to-user\"]\n[defaults]\npids_limit = 9\n").unwrap();
        let r = &pol.profiles["drop-to-user"];
        assert_eq!(r.allow_capabilities, vec!["SETUID", "SETGID"]);
        assert_eq!(r.pids_limit, 9, "inherits [defaults]");
        assert_eq!(pol.profile_sources["drop-to-user"], ProfileSource::Builtin);
        assert!(!pol.profiles.contains_key("chown-and-drop"));
        let err = err_of("builtin_profiles = [\"nginx\"]\n");
        assert!(
            err.contains("unknown built-in profile \"nginx\"")
                && err.contains("drop-to-user, chown-and-drop"),
            "{err}"
        );
        let err = err_of("builtin_profiles = [\"drop-to-user\"]\n[profiles.drop-to-user]\n");
        assert!(
            err.contains("clashes with [profiles.drop-to-user]") && err.contains("test.toml"),
            "{err}"
        );
        let err = err_of("builtin_profiles = [\"drop-to-user\", \"drop-to-user\"]\n");
        assert!(err.contains("listed twice"), "{err}");
    }

    #[test]
    fn profile_dirs_name_both_files_and_their_own() {
        let d = tempfile::tempdir().expect("tempdir");
        let (one, two) = (d.path().join("one"), d.path().join("two"));
        std::fs::create_dir(&one).expect("mkdir");
        std::fs::create_dir(&two).expect("mkdir");
        std::fs::write(one.join("a.toml"), "[profiles.app]\n").expect("write");
        std::fs::write(two.join("b.toml"), "[profiles.app]\n").expect("write");
        let policy_file = d.path().join("policy.toml");
        let text = format!(
            "profile_dirs = [{:?}, {:?}]\n",
            one.display().to_string(),
            two.display().to_string()
        );
        let err = parse(&text, &policy_file).unwrap_err().to_string();
        assert!(
            err.contains("defined twice")
                && err.contains(&one.join("a.toml").display().to_string())
                && err.contains(&two.join("b.toml").display().to_string()),
            "{err}"
        );
        // A bad value in an included file names that file, its line and key, and the policy.
        std::fs::remove_file(two.join("b.toml")).expect("rm");
        std::fs::write(
            two.join("b.toml"),
            "[profiles.b]\nallow_capabilities = [\"FLY\"]\n",
        )
        .expect("write");
        let err = parse(&text, &policy_file).unwrap_err().to_string();
        assert!(
            err.contains("b.toml")
                && err.contains("FLY")
                && err.contains(&format!("profile_dirs of {}", policy_file.display())),
            "{err}"
        );
        std::fs::write(two.join("b.toml"), "[profiles.b]\npids_limit = \"x\"\n").expect("write");
        let err = parse(&text, &policy_file).unwrap_err().to_string();
        assert!(err.contains("b.toml") && err.contains("line 2"), "{err}");
        // The source of each profile is kept.
        std::fs::write(two.join("b.toml"), "[profiles.b]\n").expect("write");
        let pol = parse(&format!("{text}[profiles.own]\n"), &policy_file).expect("loads");
        assert_eq!(
            pol.profile_sources["app"],
            ProfileSource::File(one.join("a.toml"))
        );
        assert_eq!(pol.profile_sources["own"], ProfileSource::Policy);
        // A directory that does not exist: the key and the fix.
        let err = parse(
            "profile_dirs = [\"/nonexistent/profiles.d\"]\n",
            &policy_file,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("profile_dirs") && err.contains("/nonexistent/profiles.d"),
            "{err}"
        );
    }

    #[test]
    fn an_inherited_seccomp_profile_is_the_policy_files() {
        let d = tempfile::tempdir().expect("tempdir");
        let dir = d.path().join("profiles.d");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::write(
            d.path().join("base.json"),
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#,
        )
        .expect("write");
        std::fs::write(dir.join("a.toml"), "[profiles.a]\npids_limit = 5\n").expect("write");
        let text = format!(
            "profile_dirs = [{:?}]\n[defaults]\nseccomp_profile = \"base.json\"\n",
            dir.display().to_string()
        );
        let pol = parse(&text, &d.path().join("policy.toml")).expect("loads");
        let a = &pol.profiles["a"];
        assert_eq!(
            a.seccomp_profile.as_deref(),
            Some(d.path().join("base.json").as_path())
        );
        assert_eq!(a.seccomp_loaded, pol.defaults.seccomp_loaded);
        assert!(a.seccomp_loaded.is_some());
    }
}
