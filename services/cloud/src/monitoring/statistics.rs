//! GetMetricStatistics' arithmetic: 5-minute points gathered into periods of any multiple
//! of 5 minutes, each period's statistics from its points' counts, sums and extremes.
//! Periods start at multiples of their length since the epoch, as CloudWatch aligns them.

use std::collections::BTreeMap;

use super::{period_start, Point, POINT_SECONDS};

/// The most datapoints one request may ask for, as CloudWatch limits them.
pub const MAX_DATAPOINTS: i64 = 1440;

/// Why a request for statistics cannot be answered, in CloudWatch's terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatisticsError {
    #[error("The parameter Period must be a multiple of 60 and at least {POINT_SECONDS}.")]
    Period,
    #[error("The parameter StartTime must be less than the parameter EndTime.")]
    Range,
    #[error("You have requested up to {0} datapoints, which exceeds the limit of {MAX_DATAPOINTS}. You may reduce the datapoints requested by increasing Period, or decreasing the time range.")]
    TooManyDatapoints(i64),
}

/// One period's samples, all statistics at hand.
#[derive(Debug, Clone, PartialEq)]
pub struct Datapoint {
    /// The period's start, seconds since the epoch.
    pub start: i64,
    /// The period's samples, as one point.
    pub samples: Point,
}

/// Checks a request for the periods of length `period` from `start` to `end` (seconds
/// since the epoch, `end` excluded): the datapoints it may come to.
pub fn check(start: i64, end: i64, period: i64) -> Result<(), StatisticsError> {
    if period < POINT_SECONDS || period % 60 != 0 {
        return Err(StatisticsError::Period);
    }
    if start >= end {
        return Err(StatisticsError::Range);
    }
    let periods = (period_start(end - 1, period) - period_start(start, period)) / period + 1;
    if periods > MAX_DATAPOINTS {
        return Err(StatisticsError::TooManyDatapoints(periods));
    }
    Ok(())
}

/// The datapoints of `points` (one instance's metric) from `start` to `end` in periods of
/// `period` seconds, in time order; periods without points have none.
pub fn statistics(
    points: &[Point],
    start: i64,
    end: i64,
    period: i64,
) -> Result<Vec<Datapoint>, StatisticsError> {
    check(start, end, period)?;
    let mut periods: BTreeMap<i64, Point> = BTreeMap::new();
    for point in points.iter().filter(|p| (start..end).contains(&p.start)) {
        let at = period_start(point.start, period);
        periods
            .entry(at)
            .and_modify(|p| p.absorb(point))
            .or_insert_with(|| Point {
                start: at,
                ..point.clone()
            });
    }
    Ok(periods
        .into_iter()
        .map(|(start, samples)| Datapoint { start, samples })
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::{Metric, Statistic};
    use super::*;

    fn point(start: i64, count: u64, sum: f64, min: f64, max: f64) -> Point {
        Point {
            instance: "i-1".into(),
            metric: Metric::CpuUtilization,
            start,
            sample_count: count,
            sum,
            minimum: min,
            maximum: max,
        }
    }

    #[test]
    fn periods_gather_their_points_and_give_every_statistic() {
        let points = [
            point(3600, 2, 20.0, 5.0, 15.0),
            point(3900, 3, 90.0, 10.0, 50.0),
            // The next hour.
            point(7200, 1, 7.0, 7.0, 7.0),
            // Out of the range asked.
            point(0, 1, 99.0, 99.0, 99.0),
        ];
        let got = statistics(&points, 3600, 10_800, 3600).unwrap();
        assert_eq!(got.len(), 2, "{got:?}");
        let first = &got[0].samples;
        assert_eq!(got[0].start, 3600);
        assert_eq!(Statistic::SampleCount.of(first), 5.0);
        assert_eq!(Statistic::Sum.of(first), 110.0);
        assert_eq!(Statistic::Average.of(first), 22.0);
        assert_eq!(Statistic::Minimum.of(first), 5.0);
        assert_eq!(Statistic::Maximum.of(first), 50.0);
        assert_eq!(
            (got[1].start, Statistic::Average.of(&got[1].samples)),
            (7200, 7.0)
        );
        let five = statistics(&points, 3600, 4200, 300).unwrap();
        assert_eq!(
            five.iter().map(|d| d.start).collect::<Vec<_>>(),
            [3600, 3900]
        );
    }

    #[test]
    fn bad_periods_ranges_and_too_many_datapoints_are_refused_as_cloudwatch_refuses_them() {
        assert_eq!(check(0, 600, 60), Err(StatisticsError::Period));
        assert_eq!(check(0, 600, 330), Err(StatisticsError::Period));
        assert_eq!(check(600, 600, 300), Err(StatisticsError::Range));
        // 1440 five-minute periods is five days: the limit, and one more is over it.
        assert_eq!(check(0, 1440 * 300, 300), Ok(()));
        assert_eq!(
            check(0, 1441 * 300, 300),
            Err(StatisticsError::TooManyDatapoints(1441))
        );
        assert_eq!(Statistic::from_name("Average"), Some(Statistic::Average));
        assert_eq!(Statistic::from_name("p99"), None);
    }
}
