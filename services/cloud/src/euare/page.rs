//! IAM's pages of a listing: `MaxItems` items (100 unless asked, at most 1000) after the
//! `Marker` the previous page ended with; `IsTruncated` and the next `Marker` when more remain.

use super::IamError;

/// Items per page when the request does not say.
const DEFAULT_ITEMS: i32 = 100;
/// The most a request may ask for.
const MAX_ITEMS: i32 = 1000;

/// One page of a listing.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Page<T> {
    pub items: Vec<T>,
    pub truncated: bool,
    /// Where the next page starts, when there is one: the last item's key.
    pub marker: Option<String>,
}

/// The page of `items`, sorted by `key` (a unique name), after `marker` and at most
/// `max_items` long.
pub(super) fn of<T>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> &str,
    marker: Option<String>,
    max_items: Option<i32>,
) -> Result<Page<T>, IamError> {
    let max = max_items.unwrap_or(DEFAULT_ITEMS);
    if !(1..=MAX_ITEMS).contains(&max) {
        return Err(IamError::Validation(format!(
            "MaxItems {max} is not between 1 and {MAX_ITEMS}."
        )));
    }
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    items.sort_by(|a, b| key(a).cmp(key(b)));
    if let Some(marker) = &marker {
        items.retain(|item| key(item) > marker.as_str());
    }
    let truncated = items.len() > max;
    items.truncate(max);
    let marker = if truncated {
        items.last().map(|item| key(item).to_owned())
    } else {
        None
    };
    Ok(Page {
        items,
        truncated,
        marker,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn names<'a>(page: &Page<&'a str>) -> Vec<&'a str> {
        page.items.clone()
    }

    #[test]
    fn pages_follow_each_other_by_marker_until_the_end() {
        let all = vec!["c", "a", "e", "b", "d"];
        let first = of(all.clone(), |s| s, None, Some(2)).unwrap();
        assert_eq!(names(&first), ["a", "b"]);
        assert!(first.truncated);
        let second = of(all.clone(), |s| s, first.marker, Some(2)).unwrap();
        assert_eq!(names(&second), ["c", "d"]);
        let last = of(all.clone(), |s| s, second.marker, Some(2)).unwrap();
        assert_eq!(names(&last), ["e"]);
        assert!(!last.truncated && last.marker.is_none());
        let whole = of(all, |s| s, None, None).unwrap();
        assert_eq!(whole.items.len(), 5);
        assert!(!whole.truncated);
    }

    #[test]
    fn max_items_outside_iams_range_is_a_validation_error() {
        for max in [0, -1, 1001] {
            let error = of(vec!["a"], |s| s, None, Some(max)).unwrap_err();
            assert_eq!(error.code(), "ValidationError", "{max}");
        }
    }
}
