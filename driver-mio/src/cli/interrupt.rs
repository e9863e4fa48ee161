//! Ctrl-C (and SIGTERM, SIGHUP): the first asks the command to stop cleanly
//! (client shut down, connections closed, files flushed); a second one ends the
//! process at once, for when a clean stop hangs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use super::CliError;

/// Exit status after an interruption (128 + SIGINT), as shells report it.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Whether Ctrl-C was pressed. One per process.
pub struct Interrupt {
    rx: Receiver<()>,
    fired: bool,
}

impl Interrupt {
    /// Installs the handler.
    pub fn install() -> Result<Interrupt, CliError> {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let (tx, rx) = mpsc::channel();
        ctrlc::set_handler(move || {
            if COUNT.fetch_add(1, Ordering::SeqCst) == 0 {
                let _ = tx.send(());
            } else {
                eprintln!("error: interrupted again: exiting without a clean shutdown");
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
        })
        .map_err(|e| CliError::new(format!("cannot handle Ctrl-C: {e}")))?;
        Ok(Interrupt { rx, fired: false })
    }

    /// Waits at most `timeout`; true once Ctrl-C was pressed (then and ever
    /// after).
    pub fn wait(&mut self, timeout: Duration) -> bool {
        if !self.fired {
            self.fired = match self.rx.recv_timeout(timeout) {
                Ok(()) => true,
                Err(RecvTimeoutError::Timeout) => false,
                // The handler is never dropped; be safe all the same.
                Err(RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(timeout);
                    false
                }
            };
        }
        self.fired
    }

    /// True once Ctrl-C was pressed; does not wait.
    pub fn fired(&mut self) -> bool {
        self.wait(Duration::ZERO)
    }
}
