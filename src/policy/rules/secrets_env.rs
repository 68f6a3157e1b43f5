//! `secrets-env`: environment variables whose names look like secrets (`*PASSWORD*`, `*TOKEN*`,
//! `*SECRET*`, `*_KEY`, ...) are visible to anything that can inspect the container. A warning
//! by default; a refusal with `secrets_in_env = "refuse"`. Values are never logged.

use oci_spec::runtime::{Process, Spec};

use super::{Ctx, Out, Rule, RuleId};
use crate::policy::SecretAction;

pub const RULE: Rule = Rule {
    id: RuleId::SecretsEnv,
    evaluate,
};

/// Case-insensitive glob match with `*` only.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p = pattern.to_ascii_uppercase();
    let n = name.to_ascii_uppercase();
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == n;
    }
    let mut rest = n.as_str();
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

pub fn evaluate_process(ctx: &Ctx, process: &mut Process, out: &mut Out) {
    if ctx.rules.secrets_in_env == SecretAction::Ignore {
        return;
    }
    let mut names: Vec<&str> = process
        .env()
        .iter()
        .flatten()
        .filter_map(|kv| kv.split_once('=').map(|(k, _)| k))
        .filter(|k| ctx.rules.secret_patterns.iter().any(|p| glob_match(p, k)))
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        return;
    }
    let what = format!(
        "environment variables that look like secrets: {} (env is visible to anything that can inspect the container; use a secret file or mount)",
        names.join(", ")
    );
    match ctx.rules.secrets_in_env {
        SecretAction::Refuse => out.refuse(what, ctx.allow("secrets_in_env = \"warn\"")),
        _ => out.warn(what),
    }
}

fn evaluate(ctx: &Ctx, spec: &mut Spec, out: &mut Out) {
    if let Some(mut p) = spec.process().clone() {
        evaluate_process(ctx, &mut p, out);
        spec.set_process(Some(p));
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("*PASSWORD*", "DB_PASSWORD"));
        assert!(glob_match("*PASSWORD*", "password"));
        assert!(glob_match("*_KEY", "AWS_SECRET_ACCESS_KEY"));
        assert!(!glob_match("*_KEY", "KEYBOARD"));
        assert!(glob_match("*TOKEN*", "GITHUB_TOKEN_X"));
        assert!(!glob_match("*TOKEN*", "PATH"));
        assert!(glob_match("API*", "API_X"));
        assert!(glob_match("EXACT", "exact"));
    }
}
