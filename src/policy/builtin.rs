//! Built-in profiles: the widenings that the usual official-style images need (docs/workloads.md),
//! written once here so that an operator need not work them out.
//!
//! A built-in profile exists only when the operator enables it by name in the top-level key
//! `builtin_profiles` (design rule: only profiles the operator chose exist, so a workload cannot
//! widen itself with an annotation). An enabled one is the operator's `[defaults]` with its
//! capabilities added to `allow_capabilities`: it keeps the user namespace, `no_new_privs`, the
//! read-only root, seccomp and the masked paths, so the capabilities reach only the container's
//! own IDs in its own user namespace.

use super::Rules;

/// One built-in profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    /// The name it is enabled and selected with (`io.hardened.profile=NAME`).
    pub name: &'static str,
    /// The capabilities it adds to the defaults' `allow_capabilities`.
    pub capabilities: &'static [&'static str],
    /// What it is for, one line (docs/policy.md says it at length).
    pub purpose: &'static str,
}

/// Every built-in profile, in the order the docs list them.
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "drop-to-user",
        capabilities: &["SETUID", "SETGID"],
        purpose: "entrypoints that start as root and drop to a service user (setpriv, gosu, su-exec): redis, mariadb, rabbitmq, supervisord, apache2",
    },
    Builtin {
        name: "chown-and-drop",
        capabilities: &["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID"],
        purpose: "entrypoints that chown their volumes to the service user first, then drop to it: postgres",
    },
];

/// The built-in profile called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// The names of every built-in profile, comma-separated (for messages).
pub fn known() -> String {
    BUILTINS
        .iter()
        .map(|b| b.name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Builtin {
    /// The profile's rules: `defaults` with its capabilities added to `allow_capabilities`
    /// (those the defaults already allow are not repeated).
    pub fn rules(&self, defaults: &Rules) -> Rules {
        let mut r = defaults.clone();
        for cap in self.capabilities {
            let present = r.allow_capabilities.iter().any(|c| {
                c.trim()
                    .trim_start_matches("CAP_")
                    .eq_ignore_ascii_case(cap)
            });
            if !present {
                r.allow_capabilities.push((*cap).to_string());
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_only_add_capabilities_to_the_defaults() {
        let defaults = Rules {
            allow_capabilities: vec!["NET_BIND_SERVICE".into(), "CAP_SETUID".into()],
            pids_limit: 77,
            ..Rules::default()
        };
        let r = find("drop-to-user").expect("known").rules(&defaults);
        assert_eq!(
            r.allow_capabilities,
            vec!["NET_BIND_SERVICE", "CAP_SETUID", "SETGID"]
        );
        assert_eq!(r.pids_limit, 77);
        // Everything but the capabilities is the defaults'.
        let mut expect = defaults.clone();
        expect.allow_capabilities = r.allow_capabilities.clone();
        assert_eq!(r, expect);
        assert!(r.readonly_rootfs && r.user_namespace && r.no_new_privileges);
    }

    #[test]
    fn every_builtin_capability_is_known_and_in_dockers_default_set() {
        for b in BUILTINS {
            for cap in b.capabilities {
                assert!(
                    crate::policy::rules::capabilities::parse_cap(cap).is_some(),
                    "{}: {cap}",
                    b.name
                );
                // Docker asks for these without --cap-add: the profile works with a plain
                // `docker run`.
                assert!(
                    crate::policy::DOCKER_DEFAULT_CAPS.contains(cap),
                    "{}: {cap}",
                    b.name
                );
            }
        }
        assert_eq!(known(), "drop-to-user, chown-and-drop");
        assert!(find("nginx").is_none());
    }
}
