//! Ctrl-C (and SIGTERM, SIGHUP) during training: the first one asks the run to stop after
//! its current step, with a checkpoint of that step; a second one quits at once.

use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};

/// Interrupts received so far.
static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

/// The exit status of a run ended by an interrupt: 128 + SIGINT, as shells report it.
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

/// Installs the handler; call once, before training starts.
pub(crate) fn install() -> Result<()> {
    ctrlc::set_handler(|| {
        if INTERRUPTS.fetch_add(1, Ordering::SeqCst) == 0 {
            eprintln!(
                "\ninterrupted: finishing this step and writing a checkpoint \
                 (interrupt again to quit at once)"
            );
        } else {
            // The files written so far are whole (every write is atomic), so quitting here
            // loses at most the steps since the last checkpoint.
            eprintln!("\ninterrupted again: quitting now");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    })
    .context("cannot install the Ctrl-C handler")
}

/// Whether an interrupt has arrived.
pub(crate) fn requested() -> bool {
    INTERRUPTS.load(Ordering::SeqCst) > 0
}

/// A run that stopped as asked, with the one line that says how to go on.
#[derive(Debug)]
pub(crate) struct Stopped {
    /// Where the run stopped and where its checkpoint is.
    pub(crate) what: String,
    /// The command that continues it.
    pub(crate) resume_command: String,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; to continue: {}", self.what, self.resume_command)
    }
}

impl std::error::Error for Stopped {}
