//! Draws the benchmark suite's chart: one panel per scenario, one horizontal bar per server
//! (the median of the rounds), with a whisker from the slowest to the fastest round.
//!
//! Run:   chart --input target/bench/chart.tsv --output target/bench/benchmarks.png
//!        [--title TEXT] [--font PATH]
//!
//! `bench/run.sh` writes the input and calls this. The input has one bar per line, tab
//! separated: `panel  server  median  low  high  unit`; panels and bars keep the order of
//! their first line. Text is drawn with a TrueType font read at run time: `--font`, or the
//! first of a few usual system paths (Debian's `fonts-dejavu-core` provides the first). The
//! PNG is encoded with the `png` crate from plotters' RGB buffer.

use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::FontStyle;

const USAGE: &str = "usage: chart --input TSV --output PNG [--title TEXT] [--font TTF]";

/// Fonts tried in order when `--font` is not given.
const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
];

const WIDTH: u32 = 1400;
const PANEL_HEIGHT: u32 = 300;
const TITLE_HEIGHT: u32 = 56;

/// One bar.
struct Bar {
    server: String,
    median: f64,
    low: f64,
    high: f64,
}

/// One scenario's panel.
struct Panel {
    name: String,
    unit: String,
    bars: Vec<Bar>,
}

/// Reads the TSV input into panels, in the order of first appearance.
fn read_panels(text: &str) -> Result<Vec<Panel>, String> {
    let mut panels: Vec<Panel> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [panel, server, median, low, high, unit] = fields[..] else {
            return Err(format!("line {}: expected 6 tab-separated fields", n + 1));
        };
        let number = |text: &str| {
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("line {}: {text:?} is not a number", n + 1))
        };
        let bar = Bar {
            server: server.to_owned(),
            median: number(median)?,
            low: number(low)?,
            high: number(high)?,
        };
        match panels.iter_mut().find(|p| p.name == panel) {
            Some(existing) => existing.bars.push(bar),
            None => panels.push(Panel {
                name: panel.to_owned(),
                unit: unit.to_owned(),
                bars: vec![bar],
            }),
        }
    }
    if panels.is_empty() {
        return Err("the input has no bars".into());
    }
    Ok(panels)
}

/// The bar colour: one hue per family of servers.
fn colour(server: &str) -> RGBColor {
    if server.starts_with("std") {
        RGBColor(90, 90, 90)
    } else if server.starts_with("tokio") {
        RGBColor(230, 130, 20)
    } else if server.starts_with("python") {
        RGBColor(60, 150, 70)
    } else if server.starts_with("c ") {
        RGBColor(180, 40, 40)
    } else if server.contains("event") {
        RGBColor(0, 140, 150)
    } else if server.contains("sequential") {
        RGBColor(150, 185, 230)
    } else if server.contains("pool") {
        RGBColor(70, 120, 200)
    } else if server.contains("forking") {
        RGBColor(110, 80, 180)
    } else {
        RGBColor(20, 70, 170)
    }
}

/// `123456.0` → `"123k"`, `1234.0` → `"1.23k"`, `12.5` → `"12.5"`.
fn short(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2}M", value / 1e6)
    } else if value >= 1e5 {
        format!("{:.0}k", value / 1e3)
    } else if value >= 1e4 {
        format!("{:.1}k", value / 1e3)
    } else if value >= 1e3 {
        format!("{:.2}k", value / 1e3)
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// An axis label: `50000.0` → `"50k"`, `2500.0` → `"2.5k"`, `12.0` → `"12"`.
fn axis(value: f64) -> String {
    let (scaled, suffix) = if value >= 1e6 {
        (value / 1e6, "M")
    } else if value >= 1e3 {
        (value / 1e3, "k")
    } else {
        (value, "")
    };
    let text = format!("{scaled:.1}");
    format!("{}{suffix}", text.strip_suffix(".0").unwrap_or(&text))
}

type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    panel: &Panel,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let n = panel.bars.len();
    let top = panel
        .bars
        .iter()
        .map(|b| b.high.max(b.median))
        .fold(0.0, f64::max);
    let x_max = if top > 0.0 { top * 1.18 } else { 1.0 };
    // An integer range is inclusive here: `0..last` has `last + 1` segments. A range of one
    // value cannot be drawn, so a lone bar gets an empty segment above it.
    let last = n.max(2) - 1;
    // Segment 0 is at the bottom: the panel's first server goes on top.
    let at = |i: usize| n - 1 - i;
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.name, ("sans-serif", 19))
        .margin(8)
        .margin_right(24)
        .x_label_area_size(34)
        .y_label_area_size(200)
        .build_cartesian_2d(0f64..x_max, (0..last).into_segmented())?;
    let names: Vec<&str> = panel.bars.iter().map(|b| b.server.as_str()).collect();
    let y_label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) if *i < n => names[at(*i)].to_owned(),
        _ => String::new(),
    };
    let x_label = |x: &f64| axis(*x);
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(WHITE)
        .y_labels(last + 1)
        .y_label_formatter(&y_label)
        .x_labels(6)
        .x_label_formatter(&x_label)
        .x_desc(panel.unit.as_str())
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 14))
        .draw()?;
    chart.draw_series(panel.bars.iter().enumerate().map(|(i, bar)| {
        // The top segment ends at `Last`: `Exact(last + 1)` is outside the range.
        let upper = if at(i) < last {
            SegmentValue::Exact(at(i) + 1)
        } else {
            SegmentValue::Last
        };
        let mut rect = Rectangle::new(
            [(0.0, SegmentValue::Exact(at(i))), (bar.median, upper)],
            colour(&bar.server).filled(),
        );
        rect.set_margin(4, 4, 0, 0);
        rect
    }))?;
    // The spread: a whisker from the lowest to the highest round.
    chart.draw_series(panel.bars.iter().enumerate().map(|(i, bar)| {
        PathElement::new(
            vec![
                (bar.low, SegmentValue::CenterOf(at(i))),
                (bar.high, SegmentValue::CenterOf(at(i))),
            ],
            BLACK.stroke_width(2),
        )
    }))?;
    chart.draw_series(panel.bars.iter().enumerate().map(|(i, bar)| {
        EmptyElement::at((bar.high.max(bar.median), SegmentValue::CenterOf(at(i))))
            + Text::new(short(bar.median), (6, -7), ("sans-serif", 13).into_font())
    }))?;
    Ok(())
}

fn draw(panels: &[Panel], title: &str, output: &str) -> DrawResult<()> {
    let rows = panels.len().div_ceil(2);
    let height = TITLE_HEIGHT + PANEL_HEIGHT * u32::try_from(rows)?;
    let mut buffer = vec![0u8; (WIDTH * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let (head, body) = root.split_vertically(TITLE_HEIGHT);
        head.draw(&Text::new(
            title.to_owned(),
            (16, 16),
            ("sans-serif", 22).into_font(),
        ))?;
        for (area, panel) in body.split_evenly((rows, 2)).iter().zip(panels) {
            draw_panel(area, panel)?;
        }
        root.present()?;
    }
    let file = BufWriter::new(File::create(output)?);
    let mut encoder = png::Encoder::new(file, WIDTH, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&buffer)?;
    Ok(())
}

/// Reads the font and registers it as plotters' "sans-serif".
fn load_font(path: Option<&str>) -> Result<(), String> {
    let (path, bytes) = match path {
        Some(path) => (
            path.to_owned(),
            std::fs::read(path).map_err(|e| format!("cannot read font {path}: {e}"))?,
        ),
        None => FONTS
            .iter()
            .find_map(|p| std::fs::read(p).ok().map(|b| ((*p).to_owned(), b)))
            .ok_or_else(|| {
                format!(
                    "no TrueType font found (tried {}); pass --font PATH or install \
                     fonts-dejavu-core",
                    FONTS.join(", ")
                )
            })?,
    };
    // plotters keeps registered fonts for the whole process.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| format!("{path} is not a usable TrueType font"))
}

fn main() -> ExitCode {
    let (mut input, mut output, mut font) = (None, None, None);
    let mut title = "socketserver benchmarks".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let Some(value) = args.next() else {
            eprintln!("chart: {arg} needs a value; {USAGE}");
            return ExitCode::from(2);
        };
        match arg.as_str() {
            "--input" => input = Some(value),
            "--output" => output = Some(value),
            "--title" => title = value,
            "--font" => font = Some(value),
            _ => {
                eprintln!("chart: unknown argument {arg:?}; {USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let (Some(input), Some(output)) = (input, output) else {
        eprintln!("chart: --input and --output are required; {USAGE}");
        return ExitCode::from(2);
    };
    let result = std::fs::read_to_string(&input)
        .map_err(|e| format!("cannot read {input}: {e}"))
        .and_then(|text| read_panels(&text))
        .and_then(|panels| {
            load_font(font.as_deref())?;
            draw(&panels, &title, &output).map_err(|e| format!("cannot draw {output}: {e}"))
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("chart: {message}");
            ExitCode::from(1)
        }
    }
}
