//! Gap: libcontainer 0.7 does not apply `process.consoleSize`.
//!
//! - **Restores**: config.md Process: "consoleSize (object, OPTIONAL) specifies the console size
//!   in characters of the terminal. Runtimes MUST ignore consoleSize if terminal is false or
//!   unset."
//! - **Proved by**: `console_size_is_ignored_without_a_terminal` (src/gaps/tests.rs);
//!   conformance case `process/terminal-console-size` (runtime-spec-tests/).
//! - **Goes when**: libcontainer sets the terminal's size from `consoleSize`.
//!
//! Runs in the container's process (init and `exec`), from our executor, just before `execve`.

use oci_spec::runtime::Spec;

/// The terminal's size could not be set.
#[derive(Debug, thiserror::Error)]
#[error("set the terminal's size to {width}x{height} (process.consoleSize): {source}")]
pub struct ConsoleSizeError {
    pub width: u64,
    pub height: u64,
    #[source]
    pub source: std::io::Error,
}

/// Set the terminal's size (stdin) from `process.consoleSize` when `process.terminal` is true.
pub fn in_container(spec: &Spec) -> Result<(), ConsoleSizeError> {
    let Some(process) = spec.process() else {
        return Ok(());
    };
    // config.md: "Runtimes MUST ignore consoleSize if terminal is false or unset."
    if process.terminal() != Some(true) {
        return Ok(());
    }
    if let Some(size) = process.console_size() {
        let ws = rustix::termios::Winsize {
            ws_row: u16::try_from(size.height()).unwrap_or(u16::MAX),
            ws_col: u16::try_from(size.width()).unwrap_or(u16::MAX),
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(std::io::stdin(), ws).map_err(|e| ConsoleSizeError {
            width: size.width(),
            height: size.height(),
            source: e.into(),
        })?;
    }
    Ok(())
}
