//! `verity hashers argon2 calibrate <duration>`: like Kratos's, finds the largest number of
//! argon2id iterations whose single hash takes about the requested time with the given
//! memory and parallelism, and prints the `hashers.argon2` block to paste into the config.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use argon2::{Algorithm, Argon2, Params, Version};
use clap::{Args, Subcommand};

use crate::config::{Argon2Config, ByteSize, GoDuration};

#[derive(Args, Debug)]
pub struct HashersArgs {
    #[command(subcommand)]
    command: HashersCommand,
}

#[derive(Subcommand, Debug)]
enum HashersCommand {
    /// argon2id.
    Argon2 {
        #[command(subcommand)]
        command: Argon2Command,
    },
}

#[derive(Subcommand, Debug)]
enum Argon2Command {
    /// Find the iterations whose hash takes about <DURATION> (Go syntax: `500ms`, `1s`).
    Calibrate(CalibrateArgs),
}

#[derive(Args, Debug)]
struct CalibrateArgs {
    /// The target time for one hash.
    duration: GoDuration,
    /// Memory per hash (`19MiB`, `64MB`, `65536KB`).
    #[arg(long, default_value = "19MiB")]
    memory: ByteSize,
    /// Lanes (threads) per hash.
    #[arg(long, default_value_t = 1)]
    parallelism: u32,
    /// Hashes measured per iteration count; the median counts.
    #[arg(long, default_value_t = 3)]
    samples: usize,
}

pub async fn run(args: HashersArgs) -> anyhow::Result<()> {
    let HashersCommand::Argon2 {
        command: Argon2Command::Calibrate(a),
    } = args.command;
    eprintln!(
        "calibrating argon2id: target {}, memory {}, parallelism {}, {} samples per step",
        a.duration, a.memory, a.parallelism, a.samples
    );
    let result = calibrate(a.memory, a.parallelism, a.duration.std(), a.samples).await?;
    let cfg = Argon2Config {
        memory: a.memory,
        iterations: result.iterations,
        parallelism: a.parallelism,
        ..Argon2Config::default()
    };
    print!("{}", yaml_block(&cfg));
    eprintln!(
        "median hash time with {} iterations: {:?} (target {})",
        result.iterations, result.median, a.duration
    );
    if result.median > a.duration.std() {
        eprintln!("warning: even one iteration takes longer than the target; lower --memory");
    }
    Ok(())
}

/// The outcome of a search: the chosen iterations and the median time measured for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calibration {
    pub iterations: u32,
    pub median: Duration,
}

/// Measures real argon2id hashes on a blocking thread (the hashing never runs on the
/// async workers).
pub async fn calibrate(
    memory: ByteSize,
    parallelism: u32,
    target: Duration,
    samples: usize,
) -> anyhow::Result<Calibration> {
    // Fail on bad parameters before the search starts.
    Params::new(memory.as_kib(), 1, parallelism, Some(32))
        .map_err(|e| anyhow::anyhow!("invalid argon2 parameters: {e}"))?;
    tokio::task::spawn_blocking(move || {
        search_iterations(target, samples, |iterations| {
            time_one_hash(memory, iterations, parallelism)
        })
    })
    .await
    .context("the calibration thread failed")
}

fn time_one_hash(memory: ByteSize, iterations: u32, parallelism: u32) -> Duration {
    let params = Params::new(memory.as_kib(), iterations, parallelism, Some(32))
        .expect("parameters were checked before the search");
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut out = [0u8; 32];
    let start = Instant::now();
    argon2
        .hash_password_into(b"calibration password", b"calibration-salt", &mut out)
        .expect("parameters were checked before the search");
    start.elapsed()
}

/// The largest iteration count whose median time (over `samples` calls of `measure`) is at
/// most `target`; 1 if even one iteration is slower. Doubles the count until it is too slow,
/// then bisects between the last fast and the first slow count. Pure apart from `measure`,
/// so the search is testable with a fake clock.
pub fn search_iterations(
    target: Duration,
    samples: usize,
    mut measure: impl FnMut(u32) -> Duration,
) -> Calibration {
    let mut median_of = |iterations: u32| {
        let mut times: Vec<Duration> = (0..samples.max(1)).map(|_| measure(iterations)).collect();
        times.sort_unstable();
        times[times.len() / 2]
    };
    let first = median_of(1);
    if first > target {
        return Calibration {
            iterations: 1,
            median: first,
        };
    }
    let mut good = Calibration {
        iterations: 1,
        median: first,
    };
    // Doubling phase: find a count that is too slow.
    let mut bad = loop {
        let Some(next) = good.iterations.checked_mul(2) else {
            return good;
        };
        let t = median_of(next);
        if t > target {
            break next;
        }
        good = Calibration {
            iterations: next,
            median: t,
        };
    };
    // Bisection: `good` is fast enough, `bad` is not.
    while bad - good.iterations > 1 {
        let mid = good.iterations + (bad - good.iterations) / 2;
        let t = median_of(mid);
        if t > target {
            bad = mid;
        } else {
            good = Calibration {
                iterations: mid,
                median: t,
            };
        }
    }
    good
}

/// The `hashers.argon2` block, in the config file's key names.
fn yaml_block(cfg: &Argon2Config) -> String {
    format!(
        "hashers:\n  algorithm: argon2\n  argon2:\n    memory: {}\n    iterations: {}\n    parallelism: {}\n    salt_length: {}\n    key_length: {}\n",
        cfg.memory, cfg.iterations, cfg.parallelism, cfg.salt_length, cfg.key_length
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn finds_the_largest_count_within_the_target() {
        // 3 ms per iteration plus 1 ms overhead: 33 iterations take 100 ms, 34 take 103 ms.
        let mut calls = 0;
        let c = search_iterations(ms(100), 3, |i| {
            calls += 1;
            ms(1 + 3 * u64::from(i))
        });
        assert_eq!(
            c,
            Calibration {
                iterations: 33,
                median: ms(100)
            }
        );
        // Doubling (1..64) then bisection (32..64): a handful of probes, not a linear scan.
        assert!(calls <= 3 * 14, "{calls} measurements");
    }

    #[test]
    fn uses_the_median_of_the_samples() {
        // Every third sample is a 1 s outlier; the median ignores it.
        let mut n = 0u32;
        let c = search_iterations(ms(50), 3, |i| {
            n += 1;
            if n.is_multiple_of(3) {
                ms(1000)
            } else {
                ms(10 * u64::from(i))
            }
        });
        assert_eq!(
            c,
            Calibration {
                iterations: 5,
                median: ms(50)
            }
        );
    }

    #[test]
    fn one_iteration_when_even_that_is_too_slow() {
        let c = search_iterations(ms(10), 1, |i| ms(20 * u64::from(i)));
        assert_eq!(
            c,
            Calibration {
                iterations: 1,
                median: ms(20)
            }
        );
    }

    #[test]
    fn exact_powers_of_two_and_the_cap() {
        let c = search_iterations(ms(64), 1, |i| ms(u64::from(i)));
        assert_eq!(c.iterations, 64);
        let c = search_iterations(Duration::MAX, 1, |_| ms(1));
        assert_eq!(c.iterations, 1 << 31);
    }

    #[tokio::test]
    async fn real_quick_run_with_tiny_memory() {
        let target = ms(5);
        let c = calibrate(ByteSize::kib(64), 1, target, 3).await.unwrap();
        assert!(c.iterations >= 1);
        assert!(c.median <= target || c.iterations == 1, "{c:?}");
        let cfg = Argon2Config {
            memory: ByteSize::kib(64),
            iterations: c.iterations,
            ..Argon2Config::default()
        };
        let yaml = yaml_block(&cfg);
        assert!(yaml.contains("  argon2:\n    memory: 64KiB\n"), "{yaml}");
        assert!(yaml.contains(&format!("iterations: {}\n", c.iterations)));
        // The printed block loads as part of a config file.
        let settings = crate::config::Settings::from_yaml(&format!(
            "dsn: memory\nidentity:\n  schemas:\n    - id: default\n      url: file://x.json\nselfservice:\n  default_browser_return_url: http://127.0.0.1:4455/\n{yaml}"
        ))
        .unwrap();
        assert_eq!(settings.hashers.argon2.iterations, c.iterations);
        assert_eq!(settings.hashers.argon2.memory, ByteSize::kib(64));
    }

    #[test]
    fn arguments_parse_go_durations_and_sizes() {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(subcommand)]
            c: HashersCommand,
        }
        let t =
            T::try_parse_from(["t", "argon2", "calibrate", "1s500ms", "--memory", "64MB"]).unwrap();
        let HashersCommand::Argon2 {
            command: Argon2Command::Calibrate(a),
        } = t.c;
        assert_eq!(a.duration.std(), ms(1500));
        assert_eq!(a.memory, ByteSize::kib(64 * 1024));
        assert_eq!(a.parallelism, 1);
    }
}
