//! PNG plots with `plotters` (bitmap backend; text through ab_glyph from a TTF file read at run
//! time, `BENCH_FONT` or Debian's DejaVu Sans): QPS vs concurrency per server, and latency
//! percentiles per server at 10/50/80% of its peak.

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::clients::{read_runs, stat};
use crate::{median, read_rows, shapes_in, Row, SERVERS};

const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

const COLORS: &[RGBColor] = &[
    RGBColor(214, 39, 40),   // rill
    RGBColor(31, 119, 180),  // tonic
    RGBColor(44, 160, 44),   // grpc-go
    RGBColor(148, 103, 189), // C++
    RGBColor(127, 127, 127), // nghttpd
];

type Res<T = ()> = Result<T, Box<dyn std::error::Error>>;
/// A named, coloured line of (x index, y) points.
type Series = (String, RGBColor, Vec<(usize, f64)>);

fn load_font() -> Res {
    let path = std::env::var("BENCH_FONT")
        .ok()
        .or_else(|| {
            FONTS
                .iter()
                .find(|p| std::path::Path::new(p).exists())
                .map(|p| p.to_string())
        })
        .ok_or("no TTF font found (Debian fonts-dejavu-core, or set BENCH_FONT)")?;
    let bytes: &'static [u8] = Box::leak(std::fs::read(&path)?.into_boxed_slice());
    register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| format!("{path}: not a font"))?;
    Ok(())
}

/// Writes `qps-SIZE.png` for each message size and `latency.png`; returns the files written.
pub(crate) fn plots(throughput: &str, latency: &str, dir: &str) -> Res<Vec<String>> {
    load_font()?;
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let rows: Vec<Row> = crate::rows(throughput);
    let mut sizes: Vec<String> = Vec::new();
    for r in rows.iter().filter(|r| r.server != "nghttpd") {
        if !sizes.contains(&r.size) {
            sizes.push(r.size.clone());
        }
    }
    for size in &sizes {
        let file = format!("{dir}/qps-{size}.png");
        qps(&rows, size, &file)?;
        written.push(file);
    }
    if std::path::Path::new(latency).exists() && !read_rows(latency, 4).is_empty() {
        let file = format!("{dir}/latency.png");
        latency_plot(latency, &file)?;
        written.push(file);
    }
    Ok(written)
}

fn qps(rows: &[Row], size: &str, file: &str) -> Res {
    let shapes = shapes_in(rows);
    let mut series: Vec<Series> = Vec::new();
    let mut keys: Vec<(&str, &str)> = SERVERS.to_vec();
    keys.push(("nghttpd", "nghttpd GET (ceiling)"));
    for (n, (key, name)) in keys.iter().enumerate() {
        let mut pts = Vec::new();
        for (i, shape) in shapes.iter().enumerate() {
            let mut v: Vec<f64> = rows
                .iter()
                .filter(|r| r.server == *key && &r.shape == shape)
                .filter(|r| r.size == size || *key == "nghttpd")
                .map(|r| r.rps)
                .collect();
            if !v.is_empty() {
                pts.push((i, median(&mut v)));
            }
        }
        if !pts.is_empty() {
            series.push((name.to_string(), COLORS[n.min(COLORS.len() - 1)], pts));
        }
    }
    let ymax = series
        .iter()
        .flat_map(|(_, _, p)| p.iter().map(|x| x.1))
        .fold(1.0, f64::max)
        * 1.1;
    let root = BitMapBackend::new(file, (900, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = shapes.len().max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Unary {size}: requests/s vs connections × streams (median)"),
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..ymax)?;
    let labels = shapes.clone();
    chart
        .configure_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 0.01 && i >= 0.0 {
                labels
                    .get(i as usize)
                    .map(|s| s.replace('x', " × "))
                    .unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| format!("{:.0}k", y / 1000.0))
        .x_desc("connections × streams")
        .y_desc("requests/s")
        .draw()?;
    for (name, color, pts) in &series {
        let color = *color;
        let line: Vec<(f64, f64)> = pts.iter().map(|(x, y)| (*x as f64, *y)).collect();
        chart
            .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(line.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn latency_plot(path: &str, file: &str) -> Res {
    let runs = read_runs(path);
    let loads = [10.0, 50.0, 80.0];
    let root = BitMapBackend::new(file, (1200, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title, body) = root.split_vertically(40);
    title.titled(
        "Unary latency at fixed load (open loop, rill client), % of each server's own peak",
        ("sans-serif", 20),
    )?;
    let panels = body.split_evenly((1, 3));
    for (panel, (key, name)) in
        panels
            .iter()
            .zip([("p50_us", "p50"), ("p99_us", "p99"), ("p999_us", "p99.9")])
    {
        let mut series = Vec::new();
        for (i, (s, sname)) in SERVERS.iter().enumerate() {
            let pts: Vec<(f64, f64)> = loads
                .iter()
                .filter_map(|l| {
                    stat(&runs, &format!("rate{l:.0}"), s, "rill", key).map(|m| (*l, m.0.max(1.0)))
                })
                .collect();
            if !pts.is_empty() {
                series.push((sname.to_string(), COLORS[i], pts));
            }
        }
        let ymax = series
            .iter()
            .flat_map(|(_, _, p)| p.iter().map(|x| x.1))
            .fold(10.0, f64::max)
            * 2.0;
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{name} (µs, log scale)"), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..90f64, (1f64..ymax).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("% of peak")
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()?;
        for (sname, color, pts) in series {
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                .label(sname)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart.draw_series(pts.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
