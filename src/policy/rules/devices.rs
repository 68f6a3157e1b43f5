//! `devices`: host devices beyond the standard set (`/dev/null`, `zero`, `full`, `random`,
//! `urandom`, `tty`, `console`, `ptmx`, `pts/*`, `net/tun`) are refused (`--device /dev/vda`),
//! and so is a device cgroup rule that lets the container read or write any other device
//! (`--privileged` allows every device). Rules that only allow `mknod` are fine.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, Spec};

use super::{Ctx, Out, Rule, RuleId};

pub const RULE: Rule = Rule {
    id: RuleId::Devices,
    evaluate,
};

/// (type, major, minor): minor None = any minor.
const STANDARD: &[(char, i64, Option<i64>)] = &[
    ('c', 1, Some(3)),    // null
    ('c', 1, Some(5)),    // zero
    ('c', 1, Some(7)),    // full
    ('c', 1, Some(8)),    // random
    ('c', 1, Some(9)),    // urandom
    ('c', 5, Some(0)),    // tty
    ('c', 5, Some(1)),    // console
    ('c', 5, Some(2)),    // ptmx
    ('c', 136, None),     // pts
    ('c', 10, Some(200)), // net/tun
];

const STANDARD_PATHS: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/console",
    "/dev/ptmx",
    "/dev/net/tun",
];

fn type_char(t: LinuxDeviceType) -> char {
    match t {
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::C | LinuxDeviceType::U => 'c',
        LinuxDeviceType::P => 'p',
        LinuxDeviceType::A => 'a',
    }
}

fn standard(t: char, major: Option<i64>, minor: Option<i64>) -> bool {
    STANDARD
        .iter()
        .any(|(st, sm, sn)| *st == t && major == Some(*sm) && (sn.is_none() || minor == *sn))
}

fn describe(r: &LinuxDeviceCgroup) -> String {
    let t = r.typ().map(type_char).unwrap_or('a');
    let n = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or("*".into());
    format!(
        "{t} {}:{} {}",
        n(r.major()),
        n(r.minor()),
        r.access().clone().unwrap_or_else(|| "rwm".into())
    )
}

fn evaluate(ctx: &Ctx, spec: &mut Spec, out: &mut Out) {
    let Some(linux) = spec.linux() else { return };
    let allowed_path = |p: &std::path::Path| {
        STANDARD_PATHS.iter().any(|s| p == std::path::Path::new(s))
            || p.starts_with("/dev/pts")
            || ctx.rules.allow_devices.iter().any(|a| a == p)
    };
    let mut allowed_numbers: Vec<(char, i64, i64)> = Vec::new();
    let mut refused_paths = Vec::new();
    for d in linux.devices().iter().flatten() {
        let t = type_char(d.typ());
        // A cgroup rule for a listed device is judged with the device itself.
        allowed_numbers.push((t, d.major(), d.minor()));
        if !allowed_path(d.path()) {
            refused_paths.push(format!(
                "{} ({t} {}:{})",
                d.path().display(),
                d.major(),
                d.minor()
            ));
        }
    }
    if !refused_paths.is_empty() {
        let first = linux
            .devices()
            .iter()
            .flatten()
            .find(|d| !allowed_path(d.path()))
            .map(|d| d.path().display().to_string())
            .unwrap_or_default();
        out.refuse(
            format!("the host devices {} (--device)", refused_paths.join(", ")),
            ctx.allow(&format!("allow_devices = [\"{first}\", ...]")),
        );
    }
    let rules = linux
        .resources()
        .as_ref()
        .and_then(|r| r.devices().clone())
        .unwrap_or_default();
    let mut refused_rules = Vec::new();
    for r in rules.iter().filter(|r| r.allow()) {
        let access = r.access().clone().unwrap_or_else(|| "rwm".into());
        if !access.contains('r') && !access.contains('w') {
            continue; // mknod only
        }
        let t = r.typ().map(type_char).unwrap_or('a');
        if t != 'a' && standard(t, r.major(), r.minor()) {
            continue;
        }
        if let (Some(ma), Some(mi)) = (r.major(), r.minor()) {
            if allowed_numbers.contains(&(t, ma, mi)) {
                continue;
            }
        }
        refused_rules.push(describe(r));
    }
    if !refused_rules.is_empty() {
        out.refuse(
            format!(
                "device cgroup rules that let the container read or write host devices: \"{}\"",
                refused_rules.join("\", \"")
            ),
            ctx.allow("allow_devices = [\"/dev/...\"] (the device paths)"),
        );
    }
}
