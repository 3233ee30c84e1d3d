//! The console's charts: a metric's 5-minute averages as an inline SVG drawn on the server
//! (axes, the values' scale, time labels in UTC, the line), so pages need no script.

use maud::{html, Markup};

use super::{Metric, Point, POINT_SECONDS};
use crate::ops::Cloud;
use crate::store::StoreError;

/// What [`instance_chart`] shows: the last three hours.
pub const CHART_SECONDS: i64 = 3 * 3600;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 200.0;
/// Room for the value labels on the left and the time labels below.
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;
/// Grid lines across (values) and time labels along.
const VALUE_TICKS: u32 = 4;
const TIME_TICKS: u32 = 5;

/// The chart of `points` (one instance's `metric`, in any order): the average of each.
pub fn chart(points: &[Point], metric: Metric) -> Markup {
    let mut points: Vec<&Point> = points.iter().collect();
    points.sort_by_key(|p| p.start);
    let title = format!("{} ({})", metric.name(), metric.unit());
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return html! {
            svg class="chart" xmlns="http://www.w3.org/2000/svg" width=(WIDTH) height=(HEIGHT)
                viewBox={"0 0 " (WIDTH) " " (HEIGHT)} role="img" aria-label=(title) {
                title { (title) }
                text x=(WIDTH / 2.0) y=(HEIGHT / 2.0) text-anchor="middle" { "No data yet" }
            }
        };
    };
    let (from, to) = (first.start, last.start + POINT_SECONDS);
    let top = scale_top(
        points.iter().map(|p| p.average()).fold(0.0, f64::max),
        metric,
    );
    let x = |t: i64| LEFT + (t - from) as f64 / (to - from) as f64 * (WIDTH - LEFT - RIGHT);
    let y = |v: f64| HEIGHT - BOTTOM - v / top * (HEIGHT - TOP - BOTTOM);
    // Each point is drawn at its period's middle, marked so that a lone one shows too.
    let at: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (x(p.start + POINT_SECONDS / 2), y(p.average())))
        .collect();
    let line: Vec<String> = at.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    html! {
        svg class="chart" xmlns="http://www.w3.org/2000/svg" width=(WIDTH) height=(HEIGHT)
            viewBox={"0 0 " (WIDTH) " " (HEIGHT)} role="img" aria-label=(title) {
            title { (title) }
            @for i in 0..=VALUE_TICKS {
                @let value = top * f64::from(i) / f64::from(VALUE_TICKS);
                line x1=(LEFT) x2=(WIDTH - RIGHT) y1=(y(value)) y2=(y(value))
                    stroke="#ddd" stroke-width="1" {}
                text x=(LEFT - 6.0) y=(y(value) + 4.0) text-anchor="end" font-size="11" {
                    (value_label(value, metric))
                }
            }
            @for i in 0..=TIME_TICKS {
                @let t = from + (to - from) * i64::from(i) / i64::from(TIME_TICKS);
                // The last label ends at the axis' end, inside the picture.
                @let anchor = if i == TIME_TICKS { "end" } else { "middle" };
                text x=(x(t)) y=(HEIGHT - 8.0) text-anchor=(anchor) font-size="11" {
                    (time_label(t))
                }
            }
            line x1=(LEFT) x2=(LEFT) y1=(TOP) y2=(HEIGHT - BOTTOM) stroke="#333" {}
            line x1=(LEFT) x2=(WIDTH - RIGHT) y1=(HEIGHT - BOTTOM) y2=(HEIGHT - BOTTOM)
                stroke="#333" {}
            polyline class="series" fill="none" stroke="#1f6fb2" stroke-width="2"
                points=(line.join(" ")) {}
            @for (cx, cy) in &at {
                circle class="point" cx=(format!("{cx:.1}")) cy=(format!("{cy:.1}")) r="3"
                    fill="#1f6fb2" {}
            }
        }
    }
}

/// The chart of `instance`'s `metric` over the last [`CHART_SECONDS`].
pub async fn instance_chart(
    cloud: &Cloud,
    instance: &str,
    metric: Metric,
) -> Result<Markup, StoreError> {
    let now = kit::time::now();
    let points = cloud
        .store
        .points(instance, metric, now - CHART_SECONDS, now + 1)
        .await?;
    Ok(chart(&points, metric))
}

/// The top of the value axis: 100 for percents (more if above), else the largest value
/// rounded up to 1, 2 or 5 times a power of ten, of bytes in the unit the labels show.
fn scale_top(largest: f64, metric: Metric) -> f64 {
    if metric == Metric::CpuUtilization && largest <= 100.0 {
        return 100.0;
    }
    if largest <= 0.0 {
        return 1.0;
    }
    let unit = if metric == Metric::CpuUtilization {
        1.0
    } else {
        byte_unit(largest).0
    };
    let shown = largest / unit;
    let power = 10f64.powf(shown.log10().floor());
    let top = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|top| *top >= shown)
        .unwrap_or(10.0 * power);
    top * unit
}

/// The binary unit bytes of size `value` are shown in: its size and name.
fn byte_unit(value: f64) -> (f64, &'static str) {
    let mut size = 1.0;
    for name in ["B", "KiB", "MiB", "GiB"] {
        if value < size * 1024.0 {
            return (size, name);
        }
        size *= 1024.0;
    }
    (size, "TiB")
}

/// A value as the axis shows it: percents as they are, bytes in B, KiB, MiB, GiB or TiB.
fn value_label(value: f64, metric: Metric) -> String {
    if metric == Metric::CpuUtilization {
        return format!("{value:.0}%");
    }
    let (size, name) = byte_unit(value);
    format!("{:.1} {name}", value / size)
}

/// `HH:MM` of second `t`, in UTC.
fn time_label(t: i64) -> String {
    let day = t.rem_euclid(86_400);
    format!("{:02}:{:02}", day / 3600, day % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(start: i64, value: f64) -> Point {
        Point {
            instance: "i-1".into(),
            metric: Metric::CpuUtilization,
            start,
            sample_count: 2,
            sum: value * 2.0,
            minimum: value,
            maximum: value,
        }
    }

    #[test]
    fn a_chart_has_its_axes_time_labels_and_one_vertex_per_point() {
        let svg = chart(
            &[
                point(3600 + 300, 50.0),
                point(3600, 25.0),
                point(4200, 100.0),
            ],
            Metric::CpuUtilization,
        )
        .into_string();
        assert!(svg.starts_with("<svg class=\"chart\""), "{svg}");
        assert!(svg.contains("<title>CPUUtilization (Percent)</title>"));
        assert!(svg.contains(">01:00<"), "the first time label: {svg}");
        assert!(
            svg.contains(">100%<"),
            "the top of the percent scale: {svg}"
        );
        let vertices = svg
            .split("points=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default();
        assert_eq!(vertices.split(' ').count(), 3, "{vertices}");
        // Drawn in time order: the middle point (50%) is above the first (25%).
        let ys: Vec<f64> = vertices
            .split(' ')
            .filter_map(|v| v.split(',').nth(1)?.parse().ok())
            .collect();
        assert!(ys[0] > ys[1] && ys[1] > ys[2], "{ys:?}");
        // Each point is marked, so that a lone one shows.
        assert_eq!(svg.matches("<circle class=\"point\"").count(), 3, "{svg}");
    }

    #[test]
    fn an_empty_chart_says_so_and_byte_scales_are_round() {
        let empty = chart(&[], Metric::NetworkIn).into_string();
        assert!(empty.contains("No data yet"));
        assert!(!empty.contains("polyline"));
        // 3000 B is 2.9 KiB: the axis ends at 5 KiB.
        assert_eq!(scale_top(3_000.0, Metric::NetworkIn), 5_120.0);
        assert_eq!(scale_top(700.0, Metric::NetworkIn), 1_000.0);
        assert_eq!(value_label(5_120.0, Metric::NetworkIn), "5.0 KiB");
        assert_eq!(scale_top(130.0, Metric::CpuUtilization), 200.0);
        assert_eq!(value_label(1536.0, Metric::DiskReadBytes), "1.5 KiB");
        assert_eq!(time_label(86_400 + 3_660), "01:01");
    }
}
