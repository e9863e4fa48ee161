//! Small helpers the scenarios share: bounded blocking calls and a look at a
//! download folder.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Once};
use std::thread;
use std::time::Duration;

/// Panics seen on the drivers' own threads (named `sluice-…`).
static DRIVER_PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts panics on threads whose name starts with `sluice` from now on (a
/// panic hook, installed once, that then runs the previous one). A driver
/// thread that panics may leave no other trace in a test.
pub fn watch_driver_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if thread::current()
                .name()
                .is_some_and(|n| n.starts_with("sluice"))
            {
                DRIVER_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

/// Panics on driver threads so far, in this test process (see
/// [`watch_driver_panics`]).
pub fn driver_panics() -> usize {
    DRIVER_PANICS.load(Ordering::SeqCst)
}

/// Runs `f` on its own thread and returns its result, or panics after
/// `timeout` (the thread is left behind, blocked). Readers block without a
/// timeout of their own; this bounds them.
pub fn within<T: Send + 'static>(
    what: &str,
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name(format!("within: {what}"))
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn");
    match rx.recv_timeout(timeout) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: not done after {timeout:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

/// The files (not folders) under `dir`, as paths relative to it joined with
/// `/`. A missing folder has none.
pub fn files_under(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    walk(dir, "", &mut out);
    out
}

fn walk(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&e.path(), &rel, out),
            _ => {
                out.insert(rel);
            }
        }
    }
}
