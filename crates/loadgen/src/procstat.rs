//! A local server's resident memory and CPU time, read from `/proc/PID/status` and
//! `/proc/PID/stat` (Linux only; elsewhere nothing is reported).

use serde::Serialize;

#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSample {
    pub rss_kib: u64,
    /// The anonymous part of RSS (heap, stacks): RSS less the program's own code and other
    /// mapped files, which are paged in as code paths first run.
    pub rss_anon_kib: u64,
    /// User plus system CPU time, in seconds.
    pub cpu_s: f64,
}

/// What `--pid` reports for a scenario: memory at its start, end and peak, CPU used during it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ServerUsage {
    pub pids: Vec<u32>,
    pub rss_start_mib: f64,
    pub rss_end_mib: f64,
    pub rss_max_mib: f64,
    pub cpu_seconds: f64,
    /// CPU seconds per wall-clock second: 2.0 means two cores busy.
    pub cpu_cores: f64,
}

pub fn sample(pid: u32) -> Option<ProcSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    let rss_kib = field("VmRSS:")?;
    let rss_anon_kib = field("RssAnon:").unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf reads a constant of the running system.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    Some(ProcSample { rss_kib, rss_anon_kib, cpu_s: ticks as f64 / hz })
}

/// The sum over several processes (the nodes of a cluster on this machine).
pub fn sample_all(pids: &[u32]) -> Option<ProcSample> {
    let mut total = ProcSample::default();
    for &pid in pids {
        let s = sample(pid)?;
        total.rss_kib += s.rss_kib;
        total.rss_anon_kib += s.rss_anon_kib;
        total.cpu_s += s.cpu_s;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        if cfg!(target_os = "linux") {
            let s = sample(std::process::id()).expect("own /proc entry");
            assert!(s.rss_kib > 0);
            assert!(s.rss_anon_kib > 0 && s.rss_anon_kib <= s.rss_kib);
        }
    }
}
