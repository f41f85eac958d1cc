//! Benchmarks only: see `benches/` and README.md. What follows is shared by the benchmarks.

/// An environment setting, or `default` when it is unset or empty.
pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// A memory figure of a process from /proc, in KiB: `VmRSS:` (now) or `VmHWM:` (the peak);
/// 0 where there is none.
pub fn memory_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse().ok())
        })
        .unwrap_or(0)
}
