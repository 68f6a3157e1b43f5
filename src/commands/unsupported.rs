use anyhow::{bail, Result};

pub fn unsupported(what: &str) -> Result<()> {
    bail!("{what} is not supported by hardened: checkpoint/restore (CRIU) would bypass the hardening policy; stop and re-create the container instead")
}
