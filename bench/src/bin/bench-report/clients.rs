//! Tables of the client-driven scenarios: latency at fixed load, streaming, memory and
//! client-side instructions. Input lines (tab-separated) are `rep label server client
//! fields`, `fields` being the benchmark client's `key=value ...` line.

use std::collections::BTreeMap;

use crate::{k, median, read_rows, SERVERS};

/// One run of a benchmark client.
pub(crate) struct Run {
    pub(crate) label: String,
    pub(crate) server: String,
    pub(crate) client: String,
    pub(crate) kv: BTreeMap<String, f64>,
}

pub(crate) fn read_runs(path: &str) -> Vec<Run> {
    read_rows(path, 4)
        .into_iter()
        .map(|f| Run {
            label: f[1].clone(),
            server: f[2].clone(),
            client: f[3].clone(),
            kv: f
                .get(4)
                .map(|s| s.as_str())
                .unwrap_or("")
                .split_whitespace()
                .filter_map(|kv| {
                    let (key, v) = kv.split_once('=')?;
                    Some((key.to_string(), v.parse().ok()?))
                })
                .collect(),
        })
        .collect()
}

/// Median, min and max of `key` over the runs matching `label`, `server` and `client`.
pub(crate) fn stat(
    runs: &[Run],
    label: &str,
    server: &str,
    client: &str,
    key: &str,
) -> Option<(f64, f64, f64)> {
    let mut v: Vec<f64> = runs
        .iter()
        .filter(|r| r.label == label && r.server == server && r.client == client)
        .filter_map(|r| r.kv.get(key).copied())
        .collect();
    if v.is_empty() {
        return None;
    }
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((median(&mut v), min, max))
}

fn fmt(s: Option<(f64, f64, f64)>) -> String {
    match s {
        None => "—".into(),
        Some((m, lo, hi)) if lo == hi => format!("**{}**", k(m)),
        Some((m, lo, hi)) => format!("**{}** ({}–{})", k(m), k(lo), k(hi)),
    }
}

/// Microseconds as µs below 1 ms, else ms.
fn us(x: f64) -> String {
    if x < 1000.0 {
        format!("{x:.0} µs")
    } else {
        format!("{:.1} ms", x / 1000.0)
    }
}

fn fmt_us(s: Option<(f64, f64, f64)>) -> String {
    match s {
        None => "—".into(),
        Some((m, lo, hi)) if lo == hi => format!("**{}**", us(m)),
        Some((m, lo, hi)) => format!("**{}** ({}–{})", us(m), us(lo), us(hi)),
    }
}

fn ratio(a: Option<(f64, f64, f64)>, b: Option<(f64, f64, f64)>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b.0 > 0.0 => format!("{:.2}×", a.0 / b.0),
        _ => "—".into(),
    }
}

fn present<'a>(runs: &[Run]) -> Vec<(&'a str, &'a str)> {
    SERVERS
        .iter()
        .copied()
        .filter(|(key, _)| runs.iter().any(|r| r.server == *key))
        .collect()
}

/// Rows (label, client, key, title) × servers, with every server's ratio to tonic's.
fn matrix(runs: &[Run], rows: &[(String, String, &str, String)]) {
    let servers = present(runs);
    let mut head = String::from("| |");
    let mut rule = String::from("|---|");
    for (_, name) in &servers {
        head += &format!(" {name} |");
        rule += "---:|";
    }
    for (key, name) in &servers {
        if *key != "tonic" {
            head += &format!(" {name} / tonic |");
            rule += "---:|";
        }
    }
    println!("{head}\n{rule}");
    for (label, client, key, title) in rows {
        if !runs
            .iter()
            .any(|r| &r.label == label && &r.client == client)
        {
            continue;
        }
        let mut line = format!("| {title} |");
        let tonic = stat(runs, label, "tonic", client, key);
        for (s, _) in &servers {
            let v = stat(runs, label, s, client, key);
            let shown = if key.ends_with("_us") {
                fmt_us(v)
            } else {
                fmt(v)
            };
            line += &format!(" {shown} |");
        }
        for (s, _) in &servers {
            if *s != "tonic" {
                line += &format!(" {} |", ratio(stat(runs, label, s, client, key), tonic));
            }
        }
        println!("{line}");
    }
    println!();
}

pub(crate) fn latency(path: &str) {
    let runs = read_runs(path);
    let servers = present(&runs);
    println!(
        "| server | load generator | load | calls/s asked | calls/s done | p50 | p99 | p99.9 | p99 / tonic server's |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|");
    for (s, name) in &servers {
        for (c, cname) in CLIENTS {
            let st = |label: &str, key: &str| stat(&runs, label, s, c, key);
            let tonic = |label: &str, key: &str| stat(&runs, label, "tonic", c, key);
            if st("peak", "rps").is_none() {
                continue;
            }
            println!(
                "| {name} | {cname} | peak (closed loop) | — | {} | {} | {} | {} | {} |",
                fmt(st("peak", "rps")),
                fmt_us(st("peak", "p50_us")),
                fmt_us(st("peak", "p99_us")),
                fmt_us(st("peak", "p999_us")),
                ratio(st("peak", "p99_us"), tonic("peak", "p99_us")),
            );
            let loads = [
                ("rate10", "10% of peak"),
                ("rate50", "50% of peak"),
                ("rate80", "80% of peak"),
                ("same", "same for all servers"),
            ];
            for (label, load) in loads {
                if st(label, "rps").is_none() {
                    continue;
                }
                let dropped = st(label, "dropped").map_or(0.0, |d| d.2);
                println!(
                    "| {name} | {cname} | {load}{} | {} | {} | {} | {} | {} | {} |",
                    if dropped > 0.0 { " ⚠overload" } else { "" },
                    fmt(st(label, "target_rps")),
                    fmt(st(label, "rps")),
                    fmt_us(st(label, "p50_us")),
                    fmt_us(st(label, "p99_us")),
                    fmt_us(st(label, "p999_us")),
                    ratio(st(label, "p99_us"), tonic(label, "p99_us")),
                );
            }
        }
    }
    println!();
}

const CLIENTS: &[(&str, &str)] = &[("rill", "rill client"), ("tonic", "tonic client")];

/// h2load's per-request latencies at the unary target shapes: label = shape, client "h2load".
pub(crate) fn unary_latency(path: &str) {
    let runs = read_runs(path);
    let mut rows = Vec::new();
    for shape in crate::SHAPE_ORDER {
        if !runs.iter().any(|r| r.label == *shape) {
            continue;
        }
        let (conns, streams) = shape.split_once('x').unwrap_or((shape, "?"));
        for (key, what) in [
            ("p50_us", "p50"),
            ("p99_us", "**p99**"),
            ("p999_us", "p99.9"),
            ("rps", "req/s while logging"),
        ] {
            let title = format!("{conns} × {streams}: {what}");
            rows.push((shape.to_string(), "h2load".to_string(), key, title));
        }
    }
    matrix(&runs, &rows);
    let bad: f64 = runs.iter().filter_map(|r| r.kv.get("non200")).sum();
    if bad > 0.0 {
        println!("⚠ {bad:.0} request(s) did not get HTTP 200: those runs are suspect.\n");
    }
}

pub(crate) fn streaming(path: &str) {
    let runs = read_runs(path);
    let mut labels: Vec<String> = Vec::new();
    for r in &runs {
        if !labels.contains(&r.label) {
            labels.push(r.label.clone());
        }
    }
    let mut rows = Vec::new();
    for label in &labels {
        // label: stream-SIZE-STREAMS
        let mut parts = label.splitn(3, '-').skip(1);
        let (size, streams) = (parts.next().unwrap_or("?"), parts.next().unwrap_or("?"));
        for (c, cname) in CLIENTS {
            let title = format!("{size} × {streams} stream(s), {cname}");
            rows.push((label.clone(), c.to_string(), "mb_per_s", title));
        }
    }
    println!("MB/s (10⁶ payload bytes per second), median (min–max):\n");
    matrix(&runs, &rows);
    client_ratio(&runs, &labels, "mb_per_s", "MB/s");
}

/// rill's client against tonic's, each server separately.
fn client_ratio(runs: &[Run], labels: &[String], key: &str, what: &str) {
    let servers = present(runs);
    println!("rill client / tonic client ({what}, same server, same run):\n");
    let mut head = String::from("| |");
    let mut rule = String::from("|---|");
    for (_, name) in &servers {
        head += &format!(" {name} server |");
        rule += "---:|";
    }
    println!("{head}\n{rule}");
    for label in labels {
        let mut line = format!("| {label} |");
        for (s, _) in &servers {
            line += &format!(
                " {} |",
                ratio(
                    stat(runs, label, s, "rill", key),
                    stat(runs, label, s, "tonic", key)
                )
            );
        }
        println!("{line}");
    }
    println!();
}

pub(crate) fn client_streaming(path: &str) {
    let runs = read_runs(path);
    let mut rows = Vec::new();
    for (c, cname) in CLIENTS {
        rows.push((
            "client-stream".into(),
            c.to_string(),
            "msgs_per_s",
            format!("StreamingFromClient messages/s, {cname}"),
        ));
    }
    for (key, what) in [
        ("rounds_per_s", "round trips/s"),
        ("p50_us", "round trip p50"),
        ("p99_us", "round trip p99"),
        ("p999_us", "round trip p99.9"),
    ] {
        for (c, cname) in CLIENTS {
            rows.push((
                "ping-pong".into(),
                c.to_string(),
                key,
                format!("StreamingCall ping-pong {what}, {cname}"),
            ));
        }
    }
    matrix(&runs, &rows);
    client_ratio(
        &runs,
        &["client-stream".to_string()],
        "msgs_per_s",
        "messages/s",
    );
    client_ratio(
        &runs,
        &["ping-pong".to_string()],
        "rounds_per_s",
        "round trips/s",
    );
}

/// `server metric kib count`: metric `idle`, `conns` (count connections, minus idle), `base`
/// and `streams` (count streams on top of base).
pub(crate) fn memory(path: &str) {
    let rows = read_rows(path, 4);
    let get = |s: &str, m: &str| -> Option<(f64, f64)> {
        rows.iter()
            .filter(|f| f[0] == s && f[1] == m)
            .find_map(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
    };
    let servers: Vec<(&str, &str)> = SERVERS
        .iter()
        .copied()
        .filter(|(key, _)| rows.iter().any(|f| f[0] == *key))
        .collect();
    let mut metrics: Vec<String> = Vec::new();
    for f in &rows {
        if f[1].starts_with("conns") && !metrics.contains(&f[1]) {
            metrics.push(f[1].clone());
        }
    }
    let per = |s: &str, m: &str, base: &str| -> Option<f64> {
        let (kib, n) = get(s, m)?;
        let (b, _) = get(s, base)?;
        (n > 0.0).then(|| (kib - b) * 1024.0 / n)
    };
    let mut head = String::from("| server | idle RSS |");
    let mut rule = String::from("|---|---:|");
    for m in &metrics {
        let n = get("rill", m)
            .or_else(|| get("tonic", m))
            .map_or(0.0, |x| x.1);
        head += &format!(
            " {} idle connections: RSS | bytes / connection | vs tonic |",
            k(n)
        );
        rule += "---:|---:|---:|";
    }
    let n_streams = get("rill", "streams").map_or(0.0, |x| x.1);
    head += &format!(
        " {} open streams: RSS | bytes / stream | vs tonic |",
        k(n_streams)
    );
    rule += "---:|---:|---:|";
    println!("{head}\n{rule}");
    let mib = |x: Option<(f64, f64)>| {
        x.map_or("—".into(), |(kib, _)| format!("{:.1} MiB", kib / 1024.0))
    };
    let bytes = |x: Option<f64>| x.map_or("—".into(), |b| format!("**{}**", k(b)));
    let vs = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "—".into(),
    };
    for (s, name) in &servers {
        let mut line = format!("| {name} | {} |", mib(get(s, "idle")));
        for m in &metrics {
            line += &format!(
                " {} | {} | {} |",
                mib(get(s, m)),
                bytes(per(s, m, "idle")),
                vs(per(s, m, "idle"), per("tonic", m, "idle"))
            );
        }
        line += &format!(
            " {} | {} | {} |",
            mib(get(s, "streams")),
            bytes(per(s, "streams", "base")),
            vs(per(s, "streams", "base"), per("tonic", "streams", "base"))
        );
        println!("{line}");
    }
    println!();
}

/// `client shape n1 instructions1 n2 instructions2`: per call = difference / difference.
pub(crate) fn client_instructions(path: &str) {
    let mut by: BTreeMap<(String, String), (f64, f64, f64)> = BTreeMap::new();
    println!("| shape | client | calls (two runs) | instructions / call | vs tonic client |");
    println!("|---|---|---:|---:|---:|");
    for f in read_rows(path, 6) {
        let n: Vec<f64> = f[2..6].iter().filter_map(|x| x.parse().ok()).collect();
        if n.len() == 4 && n[2] > n[0] {
            by.insert(
                (f[1].clone(), f[0].clone()),
                ((n[3] - n[1]) / (n[2] - n[0]), n[0], n[2]),
            );
        }
    }
    for ((shape, client), (per, n1, n2)) in &by {
        let vs = by
            .get(&(shape.clone(), "tonic".to_string()))
            .map_or("—".into(), |t| format!("{:.2}×", per / t.0));
        let (conns, streams) = shape.split_once('x').unwrap_or((shape, "?"));
        println!("| {conns} × {streams} | {client} | {n1:.0} and {n2:.0} | **{per:.0}** | {vs} |");
    }
    println!();
}
