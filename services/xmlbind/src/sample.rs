//! Values with every field filled, for tests that push whole messages through a stack.

use crate::value::{Base64Binary, DateTime};

/// A valid value of a wire type in which every optional part is present and every list has
/// items. Generated types implement it (behind their crate's `sample` feature).
pub trait Sample {
    fn sample() -> Self;
}

impl Sample for String {
    fn sample() -> Self {
        "sample".to_owned()
    }
}

macro_rules! sample_number {
    ($($t:ty => $v:expr),* $(,)?) => {$(
        impl Sample for $t {
            fn sample() -> Self {
                $v
            }
        }
    )*};
}
sample_number!(i32 => 42, i64 => 42, u32 => 42, u64 => 42, f64 => 1.5, bool => true);

impl Sample for DateTime {
    fn sample() -> Self {
        DateTime::from_unix(1_258_000_000)
    }
}

impl Sample for Base64Binary {
    fn sample() -> Self {
        Base64Binary(b"sample".to_vec())
    }
}

impl<T: Sample> Sample for Option<T> {
    fn sample() -> Self {
        Some(T::sample())
    }
}

/// Two items: enough to show that a list is a list.
impl<T: Sample> Sample for Vec<T> {
    fn sample() -> Self {
        vec![T::sample(), T::sample()]
    }
}

impl<T: Sample> Sample for Box<T> {
    fn sample() -> Self {
        Box::new(T::sample())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::XmlText;

    #[test]
    fn samples_are_valid_lexical_values() {
        assert_eq!(DateTime::sample().as_str(), "2009-11-12T04:26:40Z");
        assert_eq!(
            DateTime::from_text(&DateTime::sample().to_text()).unwrap(),
            DateTime::sample()
        );
        assert!(!String::sample().is_empty());
        assert_eq!(Vec::<Option<i32>>::sample(), vec![Some(42), Some(42)]);
        let b = Base64Binary::sample();
        assert_eq!(Base64Binary::from_text(&b.to_text()).unwrap(), b);
    }
}
