//! `timeline.png`: acknowledged writes per second and p99 ack latency per second, over the run, with
//! fault intervals shaded (one colour per fault kind).
//!
//! Drawn by plotters into an RGB buffer, encoded by `png`. Text (titles, axes, legend) needs a font
//! (see [`font`]); without one the same chart is drawn with no text. A missing font never fails.

mod font;
mod series;

pub(crate) use font::SYSTEM_FONT_PATHS;

use std::error::Error;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::history::{Fault, FaultKind, History};
use series::Series;

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 720;
const SERIES_COLOUR: RGBColor = RGBColor(31, 58, 96);

type DrawResult = Result<(), Box<dyn Error>>;

/// Draws the timeline of `history` into a PNG file at `path`, with text if a font from
/// `font_paths` can be loaded.
pub(crate) fn write_timeline(path: &Path, history: &History, font_paths: &[PathBuf]) -> io::Result<()> {
    let series = Series::of(history);
    let mut pixels = vec![0u8; WIDTH as usize * HEIGHT as usize * 3];
    let with_text = font::ensure_registered(font_paths);
    let drawn = draw(&mut pixels, history, &series, with_text);
    if drawn.is_err() && with_text {
        // Text is the only optional part: retry without it rather than lose the chart.
        draw(&mut pixels, history, &series, false).map_err(|e| io::Error::other(e.to_string()))?;
    } else {
        drawn.map_err(|e| io::Error::other(e.to_string()))?;
    }
    encode_png(path, &pixels)
}

/// The colour a fault kind is shaded with.
fn fault_colour(kind: FaultKind) -> RGBColor {
    match kind {
        FaultKind::KillBroker => RGBColor(228, 26, 28),
        FaultKind::KillLeader => RGBColor(255, 127, 0),
        FaultKind::KillControllerLeader => RGBColor(152, 78, 163),
        FaultKind::Pause => RGBColor(77, 175, 74),
        FaultKind::Partition => RGBColor(55, 126, 184),
        FaultKind::RollingRestart => RGBColor(166, 86, 40),
        FaultKind::DiskFull => RGBColor(247, 129, 191),
        FaultKind::ClockSkew => RGBColor(110, 110, 110),
    }
}

fn draw(pixels: &mut [u8], history: &History, series: &Series, with_text: bool) -> DrawResult {
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let body = if with_text {
        let title = format!("{} — seed {}", history.topic, history.seed);
        root.titled(&title, (font::FAMILY, 22).into_font())?
    } else {
        root.clone()
    };
    let (upper, lower) = body.split_vertically(body.dim_in_pixel().1 / 2);
    let throughput: Vec<Option<f64>> = series.acks_per_second.iter().map(|&n| Some(n as f64)).collect();
    let latency: Vec<Option<f64>> = series.p99_latency_ms.iter().map(|l| l.map(|ms| ms as f64)).collect();
    let panel = Panel { history, seconds: series.seconds() as f64, with_text };
    panel.draw(&upper, "acknowledged writes per second", &throughput, true)?;
    panel.draw(&lower, "p99 ack latency (ms)", &latency, false)?;
    root.present()?;
    Ok(())
}

/// What both panels share.
struct Panel<'a> {
    history: &'a History,
    seconds: f64,
    with_text: bool,
}

impl Panel<'_> {
    /// One chart: fault intervals behind, the series on top. The first panel fills under its series
    /// and carries the legend. Seconds without a value leave a gap.
    fn draw(
        &self,
        area: &DrawingArea<BitMapBackend<'_>, Shift>,
        title: &str,
        values: &[Option<f64>],
        first_panel: bool,
    ) -> DrawResult {
        let y_max = values.iter().flatten().fold(0f64, |max, &v| max.max(v)).max(1.0) * 1.1;
        let mut builder = ChartBuilder::on(area);
        builder.margin(12);
        if self.with_text {
            builder.caption(title, (font::FAMILY, 16).into_font());
        }
        // Without text, keep the axes and grid: only the tick labels go (empty labels draw nothing).
        builder.set_label_area_size(LabelAreaPosition::Left, if self.with_text { 60 } else { 4 });
        builder.set_label_area_size(LabelAreaPosition::Bottom, if self.with_text { 40 } else { 4 });
        let mut chart = builder.build_cartesian_2d(0f64..self.seconds, 0f64..y_max)?;
        let mut mesh = chart.configure_mesh();
        mesh.light_line_style(WHITE.mix(0.0));
        let whole = |v: &f64| format!("{v:.0}");
        if self.with_text {
            mesh.x_desc("seconds since start").label_style((font::FAMILY, 13).into_font());
            mesh.x_label_formatter(&whole).y_label_formatter(&whole);
        } else {
            // Any tick label, even an empty one, needs a font: draw the grid by hand instead.
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw()?;
        if !self.with_text {
            chart.draw_series(grid(self.seconds, y_max))?;
        }

        for kind in FaultKind::ALL {
            let colour = fault_colour(kind);
            let shaded = self.history.faults.iter().filter(|f| f.kind == kind).map(|f| {
                let (start, end) = self.interval(f);
                Rectangle::new([(start, 0.0), (end, y_max)], colour.mix(0.25).filled())
            });
            let drawn = chart.draw_series(shaded)?;
            if self.history.faults.iter().any(|f| f.kind == kind) {
                drawn
                    .label(kind.name())
                    .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
            }
        }

        for run in runs(values) {
            if first_panel {
                chart.draw_series(
                    AreaSeries::new(run, 0.0, SERIES_COLOUR.mix(0.35))
                        .border_style(SERIES_COLOUR.stroke_width(2)),
                )?;
            } else {
                chart.draw_series(LineSeries::new(run, SERIES_COLOUR.stroke_width(2)))?;
            }
        }

        if self.with_text && first_panel && !self.history.faults.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .label_font((font::FAMILY, 13).into_font())
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()?;
        }
        Ok(())
    }

    /// A fault's interval in seconds; open faults run to the end, instant ones get a visible width.
    fn interval(&self, fault: &Fault) -> (f64, f64) {
        let start = fault.start_ms as f64 / 1000.0;
        let end = fault.end_ms.map_or(self.seconds, |end| end as f64 / 1000.0);
        let min_width = self.seconds / 400.0;
        (start, end.max(start + min_width))
    }
}

/// Grid lines at most every 10 s (at most ~12 of them) and at fifths of the y range, for charts drawn
/// without tick labels.
fn grid(seconds: f64, y_max: f64) -> Vec<PathElement<(f64, f64)>> {
    let style = BLACK.mix(0.15);
    let step = ((seconds / 12.0 / 10.0).ceil() * 10.0).max(10.0);
    let verticals = (1..).map(move |i| f64::from(i) * step).take_while(move |&x| x < seconds);
    let horizontals = (1..5).map(|i| y_max * f64::from(i) / 5.0);
    verticals
        .map(|x| PathElement::new(vec![(x, 0.0), (x, y_max)], style))
        .chain(horizontals.map(|y| PathElement::new(vec![(0.0, y), (seconds, y)], style)))
        .collect()
}

/// Consecutive seconds with a value, as `(second, value)` points.
fn runs(values: &[Option<f64>]) -> Vec<Vec<(f64, f64)>> {
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current = Vec::new();
    for (second, value) in values.iter().enumerate() {
        match value {
            Some(v) => current.push((second as f64, *v)),
            None if current.is_empty() => {}
            None => runs.push(std::mem::take(&mut current)),
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

fn encode_png(path: &Path, pixels: &[u8]) -> io::Result<()> {
    let file = BufWriter::new(File::create(path)?);
    let mut encoder = png::Encoder::new(file, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(io::Error::other)?;
    writer.write_image_data(pixels).map_err(io::Error::other)?;
    writer.finish().map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::runs;

    #[test]
    fn runs_split_at_missing_seconds() {
        let values = [None, Some(1.0), Some(2.0), None, None, Some(3.0)];
        assert_eq!(runs(&values), vec![vec![(1.0, 1.0), (2.0, 2.0)], vec![(5.0, 3.0)]]);
        assert!(runs(&[None, None]).is_empty());
    }
}
