//! A bounded fuzz target (proptest, a fixed number of cases, seconds in CI) over what a caller's
//! config meets first: spec parsing (`oneline::parse_json`), the runtime's own checks
//! (`gaps::namespaces::validate`, `pipeline::check_process_safety`) and `policy::evaluate`.
//!
//! Properties: nothing panics; every parse error is one line of at most 300 bytes; and policy
//! evaluation is idempotent on its output (a hardened spec evaluates to itself, no changes, no
//! refusals).

use oci_spec::runtime::Spec;
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::policy::{self, Facts, HostFacts, Input, Mode, Policy};

fn base() -> Value {
    serde_json::to_value(Spec::default()).unwrap_or(Value::Null)
}

/// Every path to a node of `v` (object keys and array indexes), each after its parent.
fn paths(v: &Value, here: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    let children: Vec<(Value, &Value)> = match v {
        Value::Object(m) => m.iter().map(|(k, c)| (json!(k), c)).collect(),
        Value::Array(a) => a.iter().enumerate().map(|(i, c)| (json!(i), c)).collect(),
        _ => Vec::new(),
    };
    for (segment, child) in children {
        here.push(segment);
        out.push(here.clone());
        paths(child, here, out);
        here.pop();
    }
}

fn slot<'a>(v: &'a mut Value, path: &[Value]) -> Option<&'a mut Value> {
    let mut cur = v;
    for seg in path {
        cur = match seg {
            Value::String(k) => cur.as_object_mut()?.get_mut(k)?,
            Value::Number(i) => cur.as_array_mut()?.get_mut(i.as_u64()? as usize)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Strings a config may hold: paths, names the spec knows, and odd ones.
fn arb_string() -> impl Strategy<Value = String> {
    let known: Vec<String> = [
        "",
        "/",
        "..",
        "/proc/self/fd/3",
        "/var/run/docker.sock",
        "CAP_SYS_ADMIN",
        "user",
        "network",
        "bind",
        "SCMP_ACT_ALLOW",
    ]
    .into_iter()
    .map(String::from)
    .chain(["a".repeat(5000)])
    .collect();
    // Weighted as one arm per string.
    let weight = known.len() as u32;
    prop_oneof![
        1 => "[a-z/._-]{0,12}",
        weight => proptest::sample::select(known),
        1 => ".{0,8}",
    ]
}

/// Keys the spec's objects use.
const KEYS: &[&str] = &["type", "path", "destination", "source", "options", "limit"];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e300f64..1e300).prop_map(Value::from),
        arb_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    // Weighted as one arm per key.
                    KEYS.len() as u32 => proptest::sample::select(KEYS).prop_map(String::from),
                    1 => "[a-zA-Z]{1,8}",
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// One edit: where, what, and how (0: a value of the same type, 1: any JSON, 2: remove).
type Edit = (usize, Value, String, i64, u8);

fn arb_edit() -> impl Strategy<Value = Edit> {
    (
        any::<usize>(),
        arb_json(),
        arb_string(),
        prop_oneof![
            any::<i64>(),
            Just(-1i64),
            Just(0),
            Just(i64::MAX),
            Just(u32::MAX as i64 + 1)
        ],
        0u8..4,
    )
}

/// The same type as `old`, from the generated pieces: most edits keep the document a spec, so
/// that the cases reach the checks and the policy, not only the parser.
fn same_type(old: &Value, json: Value, string: String, number: i64) -> Value {
    match old {
        Value::String(_) => Value::from(string),
        Value::Number(_) => Value::from(number),
        Value::Bool(b) => Value::from(!b),
        Value::Array(a) => {
            let mut a = a.clone();
            match (number.rem_euclid(3), a.first().cloned()) {
                (0, _) => a.clear(),
                (1, Some(first)) => a.push(first),
                _ => a.push(json),
            }
            Value::from(a)
        }
        _ => json,
    }
}

/// The default spec with up to four nodes changed or removed.
fn arb_config() -> impl Strategy<Value = Value> {
    proptest::collection::vec(arb_edit(), 1..5).prop_map(|edits| {
        let mut v = base();
        for (at, json, string, number, how) in edits {
            let mut all = Vec::new();
            paths(&v, &mut Vec::new(), &mut all);
            if all.is_empty() {
                break;
            }
            let path = &all[at % all.len()];
            if how == 2 {
                if let (Some(Value::String(k)), Some(parent)) =
                    (path.last(), slot(&mut v, &path[..path.len() - 1]))
                {
                    if let Some(m) = parent.as_object_mut() {
                        m.remove(k);
                    }
                    continue;
                }
            }
            if let Some(s) = slot(&mut v, path) {
                *s = if how == 1 {
                    json
                } else {
                    same_type(s, json, string, number)
                };
            }
        }
        v
    })
}

fn evaluate(policy: &Policy, spec: &Spec) -> policy::Verdict {
    let facts = Facts::with_test_range(spec, HostFacts::default());
    policy::evaluate(
        policy,
        &Input {
            spec,
            container_id: "fuzz",
            facts: &facts,
            systemd_cgroup: false,
        },
    )
}

fn policies() -> Vec<Policy> {
    [Mode::Enforce, Mode::Audit, Mode::Permissive, Mode::Learn]
        .into_iter()
        .map(|mode| Policy {
            mode,
            ..Policy::default()
        })
        .collect()
}

/// How many generated documents parsed (the cases reach evaluate, not only the parser).
static PARSED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Every property on one config document.
fn check_config(raw: &[u8]) -> Result<(), TestCaseError> {
    let spec = match crate::oneline::parse_json::<Spec>(raw, "config.json") {
        Ok(s) => {
            PARSED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            s
        }
        Err(e) => {
            prop_assert!(!e.contains('\n'), "multi-line: {e}");
            prop_assert!(
                e.len() <= crate::oneline::LINE_MAX,
                "{} bytes: {e}",
                e.len()
            );
            return Ok(());
        }
    };
    if let Err(e) = crate::gaps::namespaces::validate(&spec).map_err(|e| e.to_string()) {
        prop_assert!(
            e.len() <= crate::oneline::LINE_MAX,
            "{} bytes: {e}",
            e.len()
        );
    }
    if let Some(p) = spec.process() {
        let _ = crate::pipeline::check_process_safety(p);
    }
    for policy in policies() {
        let v = evaluate(&policy, &spec);
        if v.refusals.is_empty() {
            let again = evaluate(&policy, &v.hardened);
            prop_assert!(
                again.changes.is_empty(),
                "not idempotent: {:?}",
                again.changes
            );
            prop_assert!(again.refusals.is_empty(), "{:?}", again.refusals);
            // Compared as specs: capability sets are sets (their JSON order is arbitrary).
            prop_assert!(
                again.hardened == v.hardened,
                "evaluated again, the spec changed"
            );
        }
    }
    Ok(())
}

proptest! {
    // Bounded: a fixed number of cases, no shrinking marathon, seconds in CI.
    #![proptest_config(ProptestConfig { cases: 300, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn mutated_configs_never_panic_and_evaluate_idempotently(config in arb_config()) {
        let raw = serde_json::to_vec(&config).unwrap_or_default();
        check_config(&raw)?;
    }

    #[test]
    fn the_default_spec_passes_every_property(_x in 0..1u8) {
        let raw = serde_json::to_vec(&base()).unwrap_or_default();
        check_config(&raw)?;
        prop_assert!(PARSED.load(std::sync::atomic::Ordering::Relaxed) > 0);
    }

    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..256)) {
        check_config(&raw)?;
    }
}
