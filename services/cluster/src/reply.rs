//! The fields every EucalyptusCC answer carries: the request's correlationId and userId
//! echoed, `return`, and on failure a `statusMessage` (failures are answers, not faults).

/// `answer!(ResponseType, request, outcome, field: value, ...)`: the response to `request`
/// with `return` = whether `outcome` (a `Result<_, impl Display>`) is `Ok`, its error as the
/// `statusMessage`, and the listed fields.
macro_rules! answer {
    ($response:ident, $request:expr, $outcome:expr $(, $field:ident : $value:expr)* $(,)?) => {{
        let outcome = $outcome;
        // Some responses have no field beyond the four.
        #[allow(clippy::needless_update)]
        let response = $response {
            correlation_id: $request.correlation_id.clone(),
            user_id: $request.user_id.clone(),
            r#return: Some(outcome.is_ok()),
            status_message: outcome.err().map(|e| e.to_string()),
            $($field: $value,)*
            ..$response::default()
        };
        response
    }};
}

pub(crate) use answer;
