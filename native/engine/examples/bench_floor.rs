//! The floor for `make bench` (bench/run.sh): the same pre-encoded request bodies the engine
//! sends, POSTed by a bare Rust client with nothing else around it (no Erlang, no decoding, no
//! planning, no retry policy, no cancellation, no per-attempt timeout).
//!
//! `bench_floor URL BODIES_FILE REPORTS`: BODIES_FILE holds the bodies of one report
//! (`<<Count:32, [<<Len:32, Body/binary>>]>>`, as bench/msm_bench.erl writes it). Each report
//! POSTs them in order (sequential batches, as for one tracking id), one report at a time,
//! on a Tokio runtime configured like the engine's dispatcher (one worker thread, at most two
//! blocking threads), with the engine's own HTTP client (`delivery::client::build_client`). The calling
//! thread submits each report to the runtime and waits for it, as a scheduler thread does.
//!
//! Prints `floor_cpu_ns_per_report`, measured for the whole process (every thread, summed from
//! /proc/self/task/*/schedstat; /proc/self/stat's utime+stime as a cross-check) over the
//! measured reports, after a warm-up.

use std::time::Instant;

use mongoose_system_metrics_engine::delivery::client::build_client;
use mongoose_system_metrics_engine::delivery::dispatch::build_runtime;

const WARMUP: usize = 200;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: bench_floor URL BODIES_FILE REPORTS");
        std::process::exit(2);
    }
    let url = reqwest::Url::parse(&args[1]).expect("URL");
    assert_eq!(url.host_str(), Some("127.0.0.1"), "loopback only");
    let bodies = read_bodies(&args[2]);
    let reports: usize = args[3].parse().expect("REPORTS");

    let runtime = build_runtime().expect("runtime");
    let client = build_client(None).expect("client");

    let one_report = |client: &reqwest::Client| {
        let client = client.clone();
        let url = url.clone();
        let bodies = bodies.clone();
        let handle = runtime.spawn(async move {
            let mut ok = 0usize;
            for body in bodies.iter() {
                let sent = client
                    .post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                if let Ok(mut response) = sent {
                    let success = response.status().is_success();
                    while let Ok(Some(_)) = response.chunk().await {}
                    ok += usize::from(success);
                }
            }
            ok
        });
        runtime.block_on(handle).expect("report task")
    };

    for _ in 0..WARMUP {
        one_report(&client);
    }
    let (cpu0, ticks0, wall0) = (task_cpu_ns(), stat_ticks(), Instant::now());
    let mut delivered = 0usize;
    for _ in 0..reports {
        delivered += one_report(&client);
    }
    let (cpu1, ticks1, wall) = (task_cpu_ns(), stat_ticks(), wall0.elapsed());
    let expected = reports * bodies.len();
    println!("floor_reports {reports}");
    println!("floor_requests_ok {delivered} of {expected}");
    println!(
        "floor_cpu_ns_per_report {}",
        (cpu1 - cpu0) / reports.max(1) as u64
    );
    println!(
        "floor_cpu_ns_per_report_stat {}",
        (ticks1 - ticks0) * (1_000_000_000 / clock_ticks()) / reports.max(1) as u64
    );
    println!(
        "floor_wall_ns_per_report {}",
        wall.as_nanos() / reports as u128
    );
    if delivered != expected {
        std::process::exit(1);
    }
}

fn read_bodies(path: &str) -> std::sync::Arc<Vec<bytes::Bytes>> {
    let data = std::fs::read(path).expect("bodies file");
    let u32_at = |at: usize| u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
    let count = u32_at(0);
    let mut at = 4;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let len = u32_at(at);
        // Shared like the engine's bodies: a send clones a reference, not the bytes.
        out.push(bytes::Bytes::copy_from_slice(&data[at + 4..at + 4 + len]));
        at += 4 + len;
    }
    std::sync::Arc::new(out)
}

/// CPU time of every live thread of this process, in ns.
fn task_cpu_ns() -> u64 {
    let mut total = 0;
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for entry in dir.flatten() {
            if let Ok(s) = std::fs::read_to_string(entry.path().join("schedstat")) {
                total += s
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    total
}

/// utime + stime of the whole process (exited threads included), in clock ticks.
fn stat_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(11) + get(12)
}

fn clock_ticks() -> u64 {
    // Linux's USER_HZ is 100 on every mainstream architecture.
    100
}
