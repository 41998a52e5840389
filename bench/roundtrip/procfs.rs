//! CPU time and peak memory of processes, from /proc (Linux).

use std::collections::HashMap;

/// Clock ticks per second of /proc/<pid>/stat's times (`getconf CLK_TCK`; 100 on Linux).
const TICKS: f64 = 100.0;

/// User + system CPU seconds a process has used so far (0 when it is gone).
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name is in parentheses and may hold spaces: count fields after the last ')'.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ... utime(11) stime(12).
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / TICKS
}

/// The peak resident set size of a process in MiB (`VmHWM`).
pub fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU seconds of a set of processes, taken at one instant.
#[derive(Default, Clone)]
pub struct Snapshot(HashMap<u32, f64>);

impl Snapshot {
    pub fn take(pids: &[u32]) -> Snapshot {
        Snapshot(pids.iter().map(|p| (*p, cpu_seconds(*p))).collect())
    }

    /// CPU seconds used between `earlier` and this snapshot by the processes of this one
    /// (a process new since `earlier` counts from zero).
    pub fn since(&self, earlier: &Snapshot) -> f64 {
        self.0
            .iter()
            .map(|(pid, now)| now - earlier.0.get(pid).copied().unwrap_or(0.0))
            .sum()
    }

    /// Adds the readings of `newer`, replacing older readings of the same processes.
    pub fn merge(&mut self, newer: Snapshot) {
        self.0
            .extend(newer.0.into_iter().filter(|(_, cpu)| *cpu > 0.0));
    }
}
