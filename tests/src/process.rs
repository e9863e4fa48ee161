//! Bounded external processes.

use std::fmt;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A child process that is killed and reaped when the guard is dropped (also when the
/// test panics). It stops only its own child, by handle.
#[derive(Debug)]
pub struct ChildGuard {
    child: Option<Child>,
    what: String,
}

impl ChildGuard {
    /// Spawn `cmd` (its stdio as configured by the caller).
    pub fn spawn(cmd: &mut Command) -> ChildGuard {
        let what = describe(cmd);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        ChildGuard {
            child: Some(child),
            what,
        }
    }

    /// Wrap an already spawned child.
    pub fn new(child: Child, what: impl Into<String>) -> ChildGuard {
        ChildGuard {
            child: Some(child),
            what: what.into(),
        }
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().expect("child already reaped").id()
    }

    /// The child itself (to take its pipes, for instance).
    pub fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("child already reaped")
    }

    /// Wait at most `timeout` for the child to exit by itself.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let what = self.what.clone();
        let child = self.child();
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() >= deadline => return None,
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => panic!("waiting for {what}: {e}"),
            }
        }
    }

    /// Kill the child (if still running) and reap it; returns its exit status.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How an external program failed to produce an [`Output`] in time.
#[derive(Debug)]
pub enum RunError {
    /// It could not be started.
    Spawn(std::io::Error),
    /// It ran past its time limit and was killed; what it printed until then.
    Timeout(Output),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Spawn(e) => write!(f, "cannot start: {e}"),
            RunError::Timeout(out) => write!(f, "timed out and was killed\n{}", out.dump()),
        }
    }
}

/// A `Command` in a readable form (program and arguments, shell-like quoting).
pub fn describe(cmd: &Command) -> String {
    let mut s = quote(&cmd.get_program().to_string_lossy());
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&quote(&arg.to_string_lossy()));
    }
    s
}

fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Run `cmd` to completion with stdin closed and stdout/stderr captured, killing it
/// after `timeout`. Panics (failing the test) on a spawn error or a timeout, with the
/// command line and whatever the program printed.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Output {
    let what = describe(cmd);
    match try_run_with_timeout(cmd, timeout) {
        Ok(out) => out,
        Err(e) => panic!("{what}: {e} (limit {timeout:?})"),
    }
}

/// Like [`run_with_timeout`], but returns the failure instead of panicking.
pub fn try_run_with_timeout(cmd: &mut Command, timeout: Duration) -> Result<Output, RunError> {
    let deadline = Instant::now() + timeout;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(RunError::Spawn)?;
    let stdout = Capture::start(child.stdout.take());
    let stderr = Capture::start(child.stderr.take());
    let mut guard = ChildGuard::new(child, describe(cmd));

    let status = guard.wait_timeout(deadline.saturating_duration_since(Instant::now()));
    let timed_out = status.is_none();
    let status = match status {
        Some(status) => status,
        None => guard.stop().expect("child was running"),
    };
    // A grandchild may keep a pipe open after the child exits: bound the wait for EOF.
    let drain = Instant::now() + Duration::from_secs(2);
    let output = Output {
        status,
        stdout: stdout.finish(drain),
        stderr: stderr.finish(drain),
    };
    if timed_out {
        Err(RunError::Timeout(output))
    } else {
        Ok(output)
    }
}

/// A thread that reads a pipe into a shared buffer, so a partial output is available
/// even when the pipe never reaches EOF.
struct Capture {
    buf: Arc<Mutex<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
}

impl Capture {
    fn start<R: Read + Send + 'static>(pipe: Option<R>) -> Capture {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let thread = pipe.map(|mut pipe| {
            let buf = Arc::clone(&buf);
            std::thread::spawn(move || {
                let mut chunk = [0u8; 8192];
                loop {
                    match pipe.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.lock().unwrap().extend_from_slice(&chunk[..n]),
                    }
                }
            })
        });
        Capture { buf, thread }
    }

    fn finish(mut self, deadline: Instant) -> Vec<u8> {
        if let Some(thread) = self.thread.take() {
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
        let buf = self.buf.lock().unwrap();
        buf.clone()
    }
}

/// Convenience accessors for a captured [`Output`].
pub trait OutputExt {
    /// stdout, lossily decoded.
    fn stdout_str(&self) -> String;
    /// stderr, lossily decoded.
    fn stderr_str(&self) -> String;
    /// Status, stdout and stderr, for failure messages.
    fn dump(&self) -> String;
}

impl OutputExt for Output {
    fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    fn dump(&self) -> String {
        format!(
            "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status,
            self.stdout_str().trim_end(),
            self.stderr_str().trim_end()
        )
    }
}

/// Panic with `what` and the full output unless the program exited successfully.
pub fn assert_success(output: &Output, what: &str) {
    assert!(output.status.success(), "{what} failed\n{}", output.dump());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output() {
        let out = run_with_timeout(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(10),
        );
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout_str(), "out\n");
        assert_eq!(out.stderr_str(), "err\n");
    }

    #[test]
    fn kills_on_timeout() {
        let start = Instant::now();
        let err = try_run_with_timeout(
            Command::new("sh").args(["-c", "echo started; exec sleep 30"]),
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(10));
        match err {
            RunError::Timeout(out) => assert_eq!(out.stdout_str(), "started\n"),
            RunError::Spawn(e) => panic!("spawn failed: {e}"),
        }
    }

    #[test]
    fn describe_quotes() {
        let mut cmd = Command::new("prog");
        cmd.args(["a b", "c", "it's"]);
        assert_eq!(describe(&cmd), r"prog 'a b' c 'it'\''s'");
    }
}
