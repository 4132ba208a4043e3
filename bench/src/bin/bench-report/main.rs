//! Turns the raw h2load figures `bench/run` collected into the markdown tables of
//! RESULTS.md: median (min–max) per server, and every figure as a ratio to tonic from the
//! same run.
//!
//! `bench-report throughput RESULTS.tsv` — lines `rep shape size server req_per_s ok failed`
//! (tab-separated; `size` is `-` for the nghttpd ceiling, which serves a GET).
//! `bench-report instructions INSTR.tsv` — lines `server shape requests instructions`.
//! `bench-report (latency|streaming|client-streaming) RUNS.tsv` — lines `rep label server
//! client key=value...` from the benchmark clients (`unary-latency`: the same from h2load's
//! per-request logs, label = shape, client `h2load`); `bench-report memory MEM.tsv`;
//! `bench-report client-instructions CI.tsv`; `bench-report plots THROUGHPUT.tsv LATENCY.tsv
//! DIR` writes PNGs.

use std::collections::BTreeMap;
use std::process::exit;

mod clients;
mod plots;

/// Servers in the order of the tables; the key is what `bench/run` writes.
const SERVERS: &[(&str, &str)] = &[
    ("rill", "rill"),
    ("rillh2", "rill on h2"),
    ("tonic", "tonic"),
    ("go", "grpc-go"),
    ("cpp", "gRPC C++"),
];
const CEILING: &str = "nghttpd";
const SHAPE_ORDER: &[&str] = &["1x1", "1x8", "1x64", "1x1000", "16x64", "50x20"];

struct Row {
    shape: String,
    size: String,
    server: String,
    rps: f64,
    failed: u64,
}

fn read_rows(path: &str, fields: usize) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        eprintln!("bench-report: {path}: {e}");
        exit(1)
    });
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').map(str::to_string).collect::<Vec<_>>())
        .filter(|f| f.len() >= fields)
        .collect()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn k(x: f64) -> String {
    if x >= 100_000.0 {
        format!("{:.0}k", x / 1000.0)
    } else if x >= 1000.0 {
        format!("{:.1}k", x / 1000.0)
    } else {
        format!("{x:.0}")
    }
}

/// Median and range of one server's repetitions, or None if it has none.
struct Cell {
    median: f64,
    min: f64,
    max: f64,
    failed: u64,
}

fn cell(rows: &[Row], shape: &str, size: &str, server: &str) -> Option<Cell> {
    let mine: Vec<&Row> = rows
        .iter()
        .filter(|r| r.shape == shape && r.server == server && (r.size == size || size == "*"))
        .collect();
    if mine.is_empty() {
        return None;
    }
    let mut v: Vec<f64> = mine.iter().map(|r| r.rps).collect();
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(0.0, f64::max);
    Some(Cell {
        median: median(&mut v),
        min,
        max,
        failed: mine.iter().map(|r| r.failed).sum(),
    })
}

fn show(c: &Option<Cell>) -> String {
    match c {
        None => "—".into(),
        Some(c) => {
            let flag = if c.failed > 0 { " ⚠failed" } else { "" };
            format!("**{}** ({}–{}){flag}", k(c.median), k(c.min), k(c.max))
        }
    }
}

fn ratio(a: &Option<Cell>, b: &Option<Cell>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b.median > 0.0 => format!("{:.2}×", a.median / b.median),
        _ => "—".into(),
    }
}

fn shapes_in(rows: &[Row]) -> Vec<String> {
    let mut shapes: Vec<String> = SHAPE_ORDER
        .iter()
        .filter(|s| rows.iter().any(|r| r.shape == **s))
        .map(|s| s.to_string())
        .collect();
    for r in rows {
        if !shapes.contains(&r.shape) {
            shapes.push(r.shape.clone());
        }
    }
    shapes
}

/// The throughput TSV's rows with a parsable rate.
fn rows(path: &str) -> Vec<Row> {
    read_rows(path, 7)
        .into_iter()
        .filter_map(|f| {
            Some(Row {
                shape: f[1].clone(),
                size: f[2].clone(),
                server: f[3].clone(),
                rps: f[4].parse().ok()?,
                failed: f[6].parse().unwrap_or(0),
            })
        })
        .collect()
}

fn throughput(path: &str) {
    let rows = rows(path);
    let mut sizes: Vec<String> = Vec::new();
    for r in rows.iter().filter(|r| r.server != CEILING) {
        if !sizes.contains(&r.size) {
            sizes.push(r.size.clone());
        }
    }
    let present: Vec<&(&str, &str)> = SERVERS
        .iter()
        .filter(|(key, _)| rows.iter().any(|r| r.server == *key))
        .collect();
    let has_ceiling = rows.iter().any(|r| r.server == CEILING);
    for size in &sizes {
        println!("### Unary, {size} messages: requests/s, median (min–max)\n");
        let mut head = String::from("| connections × streams |");
        let mut rule = String::from("|---|");
        for (_, name) in &present {
            head += &format!(" {name} |");
            rule += "---:|";
        }
        if has_ceiling {
            head += " nghttpd GET (ceiling) |";
            rule += "---:|";
        }
        for (key, name) in &present {
            if *key != "tonic" {
                head += &format!(" {name} / tonic |");
                rule += "---:|";
            }
        }
        if has_ceiling {
            head += " rill / ceiling |";
            rule += "---:|";
        }
        println!("{head}\n{rule}");
        for shape in shapes_in(&rows) {
            let (conns, streams) = shape.split_once('x').unwrap_or((&shape, "?"));
            let mut line = format!("| {conns} × {streams} |");
            let tonic = cell(&rows, &shape, size, "tonic");
            for (key, _) in &present {
                line += &format!(" {} |", show(&cell(&rows, &shape, size, key)));
            }
            let ceiling = cell(&rows, &shape, "*", CEILING);
            if has_ceiling {
                line += &format!(" {} |", show(&ceiling));
            }
            for (key, _) in &present {
                if *key != "tonic" {
                    line += &format!(" {} |", ratio(&cell(&rows, &shape, size, key), &tonic));
                }
            }
            if has_ceiling {
                line += &format!(" {} |", ratio(&cell(&rows, &shape, size, "rill"), &ceiling));
            }
            println!("{line}");
        }
        println!();
    }
    // Columns 8 and 10: server CPU-seconds and elapsed seconds of each run (warm-up included).
    let cpu_rows: Vec<(String, String, String, f64, f64)> = read_rows(path, 10)
        .iter()
        .filter_map(|f| {
            let rps: f64 = f[4].parse().ok()?;
            let cpu: f64 = f[7].parse().ok()?;
            let elapsed: f64 = f[9].parse().ok()?;
            (rps > 0.0 && elapsed > 0.0).then(|| {
                // Requests in the whole window, at the measured rate.
                let per_req_us = cpu / (rps * elapsed) * 1e6;
                (
                    f[1].clone(),
                    f[2].clone(),
                    f[3].clone(),
                    per_req_us,
                    cpu / elapsed * 100.0,
                )
            })
        })
        .collect();
    if !cpu_rows.is_empty() {
        println!("### Server CPU per request (µs) and server core utilisation, medians\n");
        println!(
            "CPU time the server process used over each run (warm-up included) divided by the \
             requests that run's rate implies; a server below 100% of its core was waiting on the \
             network or the client, not on its own work.\n"
        );
        let mut head = String::from("| size | connections × streams |");
        let mut rule = String::from("|---|---|");
        let mut keys: Vec<(&str, &str)> = present.iter().map(|p| **p).collect();
        if has_ceiling {
            keys.push((CEILING, "nghttpd"));
        }
        for (_, name) in &keys {
            head += &format!(" {name} |");
            rule += "---:|";
        }
        println!("{head}\n{rule}");
        for size in &sizes {
            for shape in shapes_in(&rows) {
                let (conns, streams) = shape.split_once('x').unwrap_or((&shape, "?"));
                let mut line = format!("| {size} | {conns} × {streams} |");
                for (key, _) in &keys {
                    let mut us: Vec<f64> = Vec::new();
                    let mut util: Vec<f64> = Vec::new();
                    for r in cpu_rows.iter().filter(|r| {
                        r.0 == shape && r.2 == *key && (r.1 == *size || *key == CEILING)
                    }) {
                        us.push(r.3);
                        util.push(r.4);
                    }
                    if us.is_empty() {
                        line += " — |";
                    } else {
                        line +=
                            &format!(" {:.1} µs ({:.0}%) |", median(&mut us), median(&mut util));
                    }
                }
                println!("{line}");
            }
        }
        println!();
    }
    // Column 9: CPU that other processes used during each run, in % of one core.
    let mut others: Vec<f64> = read_rows(path, 9)
        .iter()
        .filter_map(|f| f[8].parse().ok())
        .collect();
    if !others.is_empty() {
        let max = others.iter().copied().fold(0.0, f64::max);
        let busy = others.iter().filter(|x| **x > 10.0).count();
        let n = others.len();
        println!(
            "Other load during the runs (CPU of processes other than the server and h2load, plus \
             hypervisor steal): median {:.0}%, max {max:.0}% of one core; {busy} of {n} runs \
             above 10%{}.\n",
            median(&mut others),
            if busy > 0 {
                " — those figures may be disturbed"
            } else {
                ""
            }
        );
    }
}

fn instructions(path: &str) {
    // server -> shape -> (requests, instructions)
    let mut by: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
    for f in read_rows(path, 4) {
        if let (Ok(n), Ok(i)) = (f[2].parse::<f64>(), f[3].parse::<f64>()) {
            by.insert((f[1].clone(), f[0].clone()), (n, i));
        }
    }
    println!("| shape | server | requests | instructions | instructions / RPC | vs tonic |");
    println!("|---|---|---:|---:|---:|---:|");
    for ((shape, server), (n, i)) in &by {
        let per = i / n;
        let vs = by
            .get(&(shape.clone(), "tonic".to_string()))
            .map(|(tn, ti)| format!("{:.2}×", per / (ti / tn)))
            .unwrap_or_else(|| "—".into());
        let (conns, streams) = shape.split_once('x').unwrap_or((shape, "?"));
        println!("| {conns} × {streams} | {server} | {n:.0} | {i:.0} | **{per:.0}** | {vs} |");
    }
    println!();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["throughput", path] => throughput(path),
        ["instructions", path] => instructions(path),
        ["latency", path] => clients::latency(path),
        ["unary-latency", path] => clients::unary_latency(path),
        ["streaming", path] => clients::streaming(path),
        ["client-streaming", path] => clients::client_streaming(path),
        ["memory", path] => clients::memory(path),
        ["client-instructions", path] => clients::client_instructions(path),
        ["plots", throughput, latency, dir] => match plots::plots(throughput, latency, dir) {
            Ok(files) => {
                for f in files {
                    println!("{f}");
                }
            }
            Err(e) => {
                eprintln!("bench-report plots: {e}");
                exit(1);
            }
        },
        _ => {
            eprintln!(
                "usage: bench-report (throughput|instructions|latency|unary-latency|streaming|\
                 client-streaming|memory|client-instructions) FILE.tsv\n       \
                 bench-report plots THROUGHPUT.tsv LATENCY.tsv DIR"
            );
            exit(2);
        }
    }
}
