//! The output of a child process, line by line, to wait on and to show when a test
//! fails.

use std::io::Read;
use std::process::Child;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Most lines kept (the first ones and the latest ones are what a failure needs).
const KEEP_FIRST: usize = 2_000;
const KEEP_LAST: usize = 20_000;

#[derive(Default)]
struct Lines {
    first: Vec<String>,
    last: std::collections::VecDeque<String>,
    dropped: usize,
    /// Pipes still open.
    open: usize,
}

impl Lines {
    fn push(&mut self, line: String) {
        if self.first.len() < KEEP_FIRST {
            self.first.push(line);
            return;
        }
        if self.last.len() == KEEP_LAST {
            self.last.pop_front();
            self.dropped += 1;
        }
        self.last.push_back(line);
    }

    fn all(&self) -> impl Iterator<Item = &String> {
        self.first.iter().chain(self.last.iter())
    }
}

/// Lines a child printed on stdout and stderr (stderr lines start with `! `), read by
/// two threads as they come. `\r` ends a line too (progress displays).
#[derive(Clone)]
pub struct ProcLog {
    name: String,
    shared: Arc<(Mutex<Lines>, Condvar)>,
}

impl ProcLog {
    /// Take `child`'s piped stdout and stderr (whichever are piped) and start reading.
    pub fn capture(child: &mut Child, name: impl Into<String>) -> ProcLog {
        let log = ProcLog {
            name: name.into(),
            shared: Arc::new((Mutex::new(Lines::default()), Condvar::new())),
        };
        if let Some(out) = child.stdout.take() {
            log.read_pipe(out, "");
        }
        if let Some(err) = child.stderr.take() {
            log.read_pipe(err, "! ");
        }
        log
    }

    fn read_pipe<R: Read + Send + 'static>(&self, mut pipe: R, prefix: &'static str) {
        self.shared.0.lock().unwrap().open += 1;
        let shared = self.shared.clone();
        std::thread::spawn(move || {
            let mut pending = Vec::new();
            let mut chunk = [0u8; 8192];
            let flush = |pending: &mut Vec<u8>| {
                let text = String::from_utf8_lossy(pending).trim_end().to_string();
                pending.clear();
                if !text.trim().is_empty() {
                    let (lock, cvar) = &*shared;
                    lock.lock().unwrap().push(format!("{prefix}{text}"));
                    cvar.notify_all();
                }
            };
            loop {
                match pipe.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        for &b in &chunk[..n] {
                            if b == b'\n' || b == b'\r' {
                                flush(&mut pending);
                            } else {
                                pending.push(b);
                            }
                        }
                    }
                }
            }
            flush(&mut pending);
            let (lock, cvar) = &*shared;
            lock.lock().unwrap().open -= 1;
            cvar.notify_all();
        });
    }

    /// The program's name, as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Wait at most `timeout` for a line (already printed or to come) that `pred`
    /// accepts; `None` on timeout or when the program closed its output first.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        self.wait_for_from(0, timeout, pred).map(|(_, l)| l)
    }

    /// Like [`wait_for`](Self::wait_for), looking only at lines from index `from` on;
    /// returns the index of the line found too, to continue after it.
    pub fn wait_for_from(
        &self,
        from: usize,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Option<(usize, String)> {
        let deadline = Instant::now() + timeout;
        let (lock, cvar) = &*self.shared;
        let mut lines = lock.lock().unwrap();
        let mut seen = from;
        loop {
            let total = lines.first.len() + lines.last.len();
            if seen < total {
                let found = lines
                    .all()
                    .enumerate()
                    .skip(seen)
                    .find(|(_, l)| pred(l))
                    .map(|(i, l)| (i, l.clone()));
                if found.is_some() {
                    return found;
                }
                seen = total;
            }
            if lines.open == 0 {
                return None;
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            lines = cvar.wait_timeout(lines, deadline - now).unwrap().0;
        }
    }

    /// Every line kept so far.
    pub fn lines(&self) -> Vec<String> {
        let lines = self.shared.0.lock().unwrap();
        lines.all().cloned().collect()
    }

    /// The last `n` lines, one per line, for a failure message.
    pub fn tail(&self, n: usize) -> String {
        let lines = self.shared.0.lock().unwrap();
        let total = lines.first.len() + lines.last.len();
        let mut out = String::new();
        if lines.dropped > 0 {
            out.push_str(&format!("[{} lines dropped]\n", lines.dropped));
        }
        for l in lines.all().skip(total.saturating_sub(n)) {
            out.push_str(l);
            out.push('\n');
        }
        out
    }
}
