//! The caller's bundle is input and is never modified.
//!
//! `libcontainer` reads the spec only from `<bundle>/config.json`. When the pipeline changed the
//! spec, the hardened spec is written to a private *shadow bundle* under the state root
//! (`<root>/.bundles/<id>/config.json`, root filesystem path made absolute), and a `bundle`
//! symlink there records the caller's bundle so that `state` can report it. When nothing changed
//! (permissive policy), the caller's bundle is used as it is.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use oci_spec::runtime::Spec;

const SHADOW_DIR: &str = ".bundles";

pub fn shadow_dir(root: &Path, id: &str) -> PathBuf {
    root.join(SHADOW_DIR).join(id)
}

/// Load `<bundle>/config.json`. A parse error is one line naming the JSON path of the bad field
/// (`invalid config.json: linux.resources.cpu.quota: invalid type: ...`).
pub fn load_spec(bundle: &Path) -> Result<Spec> {
    load_spec_file(
        &bundle.join("config.json"),
        "config.json",
        "check that --bundle names an OCI bundle",
    )
}

/// Load a runtime-spec config from `path`; `what` names it in a parse error, `hint` says what to
/// do when it cannot be read.
pub fn load_spec_file(path: &Path, what: &str, hint: &str) -> Result<Spec> {
    let raw = fs::read(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {what} {} ({e}): {hint}",
            crate::oneline::path(path)
        )
    })?;
    crate::oneline::parse_json(&raw, what).map_err(anyhow::Error::msg)
}

/// Write the hardened `spec` as a shadow bundle for `id` and return its directory.
pub fn write_shadow(root: &Path, id: &str, caller_bundle: &Path, spec: &Spec) -> Result<PathBuf> {
    let dir = shadow_dir(root, id);
    fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let result = (|| -> Result<()> {
        let mut spec = spec.clone();
        if let Some(mut r) = spec.root().clone() {
            if r.path().is_relative() {
                r.set_path(caller_bundle.join(r.path()));
                spec.set_root(Some(r));
            }
        }
        let json = serde_json::to_vec(&spec)?;
        let mut f = fs::File::create(dir.join("config.json"))?;
        f.write_all(&json)?;
        let link = dir.join("bundle");
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(caller_bundle, &link)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&dir);
        return Err(e.context(format!("write the hardened spec to {}", dir.display())));
    }
    Ok(dir)
}

/// The caller's bundle for a container whose libcontainer state names `state_bundle`.
pub fn caller_bundle(root: &Path, id: &str, state_bundle: &Path) -> PathBuf {
    let dir = shadow_dir(root, id);
    if state_bundle == dir || state_bundle.starts_with(root.join(SHADOW_DIR)) {
        if let Ok(target) = fs::read_link(dir.join("bundle")) {
            return target;
        }
    }
    state_bundle.to_path_buf()
}

pub fn remove_shadow(root: &Path, id: &str) {
    let dir = shadow_dir(root, id);
    if dir.exists() {
        if let Err(e) = fs::remove_dir_all(&dir) {
            tracing::warn!("failed to remove {}: {e}", dir.display());
        }
    }
}

/// Absolute, canonical path of a caller-given bundle.
pub fn canonical_bundle(bundle: &Path) -> Result<PathBuf> {
    fs::canonicalize(bundle).with_context(|| {
        format!(
            "bundle {} does not exist or is not accessible",
            bundle.display()
        )
    })
}
