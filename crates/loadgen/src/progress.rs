//! A one-line progress display on stderr while a scenario runs: redrawn in place on a
//! terminal, a plain line every few seconds otherwise (logs, CI).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Counters {
    pub done: AtomicU64,
    pub errors: AtomicU64,
    phase: Mutex<String>,
    stop: AtomicBool,
}

impl Counters {
    pub fn set_phase(&self, phase: impl Into<String>) {
        *self.phase.lock().expect("progress lock is never poisoned") = phase.into();
        self.done.store(0, Ordering::Relaxed);
    }
}

/// Draw progress until the returned handle is dropped.
pub struct Progress {
    pub counters: Arc<Counters>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    pub fn start(label: String, total: u64, enabled: bool) -> Progress {
        let counters = Arc::new(Counters::default());
        let thread = enabled.then(|| {
            let c = counters.clone();
            std::thread::spawn(move || draw(&label, total, &c))
        });
        Progress { counters, thread }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.counters.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn draw(label: &str, total: u64, c: &Counters) {
    let tty = std::io::stderr().is_terminal();
    let began = Instant::now();
    let mut last_line = Instant::now();
    let mut drawn = false;
    while !c.stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
        let done = c.done.load(Ordering::Relaxed);
        let errors = c.errors.load(Ordering::Relaxed);
        let phase = c.phase.lock().expect("progress lock is never poisoned").clone();
        let width = 30usize;
        let filled = (done.min(total) * width as u64).checked_div(total).unwrap_or(0) as usize;
        let line = format!(
            "{label} {phase:<10} [{}{}] {done}/{total} errors {errors} {:.0}s",
            "#".repeat(filled),
            "-".repeat(width - filled),
            began.elapsed().as_secs_f64()
        );
        let mut err = std::io::stderr().lock();
        if tty {
            let _ = write!(err, "\r{line}\x1b[K");
            drawn = true;
        } else if last_line.elapsed() >= Duration::from_secs(5) {
            let _ = writeln!(err, "{line}");
            last_line = Instant::now();
        }
        let _ = err.flush();
    }
    if drawn {
        let _ = write!(std::io::stderr(), "\r\x1b[K");
    }
}
