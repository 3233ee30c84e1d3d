//! CloudWatch's RPC protocols, the ones stock botocore (1.37 and later) and the AWS CLI
//! speak: AWS JSON 1.0 (`POST {PATH}` with `X-Amz-Target: GraniteServiceVersion20100801.{Op}`,
//! botocore's first choice) and rpc-v2-cbor (`POST
//! {PATH}/service/GraniteServiceVersion20100801/operation/{Op}`), each a map of the
//! operation's input answered with a map of its output.
//!
//! Both go through the Query API's code rather than beside it. A request's map is flattened
//! into the Query parameters it stands for ([`parameters`]: lists as `.member.N`, structures
//! as `.Name`, times as ISO 8601), which the generated Query binding then types, so
//! authentication, policies and events are the Query API's. An answer's XML document is read
//! back by the WSDL's schema ([`reply`]): lists become arrays, `xs:dateTime` an epoch (CBOR
//! tag 1; a bare number in JSON), `xs:double` a float, `xs:int` an integer and `xs:boolean`
//! a bool. Both protocols share one value tree, CBOR's: JSON maps onto it. Failures are
//! `{"__type", "message"}` maps, their code also in `x-amzn-query-error` as CloudWatch's
//! Query-compatible services send it.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;
use ciborium::value::{Integer, Value};
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};
use soap::HttpBody;
use xmlbind::{DateTime, Document, ElementRef, Limits, XmlText};

use super::error::CloudWatchError;

/// The service's name in rpc-v2-cbor paths and JSON targets.
const SERVICE: &str = "GraniteServiceVersion20100801";

/// CBOR's tag of a date and time as seconds since the epoch.
const EPOCH_TAG: u64 = 1;

/// The deepest a request's map may nest: CloudWatch's inputs nest three deep.
const MAX_DEPTH: usize = 16;

/// An RPC protocol of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// AWS JSON 1.0.
    Json,
    /// Smithy's rpc-v2-cbor.
    Cbor,
}

impl Protocol {
    /// The protocol and operation of a request to the API at `base`, when it is not a Query
    /// request.
    pub fn of<'p>(base: &str, parts: &'p Parts) -> Option<(Self, &'p str)> {
        if parts.method != Method::POST {
            return None;
        }
        let named = |op: &'p str| (!op.is_empty() && !op.contains('/')).then_some(op);
        let under = parts.uri.path().strip_prefix(base)?;
        if under.is_empty() {
            let target = parts.headers.get("x-amz-target")?.to_str().ok()?;
            let op = target.strip_prefix(SERVICE)?.strip_prefix('.')?;
            return named(op).map(|op| (Self::Json, op));
        }
        let op = under
            .strip_prefix("/service/")?
            .strip_prefix(SERVICE)?
            .strip_prefix("/operation/")?;
        named(op).map(|op| (Self::Cbor, op))
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/x-amz-json-1.0",
            Self::Cbor => "application/cbor",
        }
    }

    fn decode(self, body: &[u8]) -> Result<Value, CloudWatchError> {
        let decoded = match self {
            Self::Json => serde_json::from_slice(body).map_err(|e| e.to_string()),
            Self::Cbor => ciborium::de::from_reader(body).map_err(|e| e.to_string()),
        };
        decoded.map_err(|e| {
            CloudWatchError::InvalidParameterValue(format!("the request body cannot be read: {e}"))
        })
    }

    fn encode(self, value: &Value) -> Result<Vec<u8>, CloudWatchError> {
        let mut out = Vec::new();
        let written = match self {
            // JSON has no tags: a time is its bare epoch.
            Self::Json => {
                serde_json::to_writer(&mut out, &untagged(value.clone())).map_err(|e| e.to_string())
            }
            Self::Cbor => ciborium::ser::into_writer(value, &mut out).map_err(|e| e.to_string()),
        };
        written.map_err(|e| CloudWatchError::Internal(format!("cannot encode an answer: {e}")))?;
        Ok(out)
    }

    /// The Query parameters the `body` of a request for `operation` stands for (an empty
    /// body: none).
    pub fn parameters(
        self,
        operation: &str,
        body: &[u8],
    ) -> Result<Vec<(String, String)>, CloudWatchError> {
        let mut out = Vec::new();
        if body.is_empty() {
            return Ok(out);
        }
        let mut value = self.decode(body)?;
        if !matches!(value, Value::Map(_)) {
            return Err(CloudWatchError::InvalidParameterValue(
                "the request body is not a map".into(),
            ));
        }
        if self == Self::Json {
            // JSON's times are bare epochs: the schema tells them apart.
            let schema = schema()?;
            if let Some(r#type) = schema.elements.get(operation) {
                schema.tag_times(r#type, &mut value);
            }
        }
        flatten("", &value, 0, &mut out)?;
        Ok(out)
    }

    /// The map of an answer's XML `document` (`<OpResponse>` holding `<OpResult>` and
    /// `ResponseMetadata`): the result's members, typed by the WSDL's schema.
    pub fn reply(self, document: &str) -> Result<Vec<u8>, CloudWatchError> {
        self.encode(&reply_value(document)?)
    }

    /// `error` as the protocol answers it.
    pub fn failure(self, error: &CloudWatchError, request_id: &str) -> Response<HttpBody> {
        let body = Value::Map(vec![
            (Value::from("__type"), Value::from(error.code())),
            (Value::from("message"), Value::from(error.to_string())),
        ]);
        let sender = if error.status().is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        // Encoding a map of text fails only on its writer, a Vec here.
        let body = self.encode(&body).unwrap_or_default();
        let mut response = self.response(error.status(), body, request_id);
        if let Ok(code) = HeaderValue::from_str(&format!("{};{sender}", error.code())) {
            response
                .headers_mut()
                .insert(HeaderName::from_static("x-amzn-query-error"), code);
        }
        response
    }

    /// The protocol's response of `status` with `body`.
    pub fn response(
        self,
        status: StatusCode,
        body: Vec<u8>,
        request_id: &str,
    ) -> Response<HttpBody> {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type()));
        if self == Self::Cbor {
            headers.insert(
                HeaderName::from_static("smithy-protocol"),
                HeaderValue::from_static("rpc-v2-cbor"),
            );
        }
        if let Ok(id) = HeaderValue::from_str(request_id) {
            headers.insert(HeaderName::from_static("x-amzn-requestid"), id);
        }
        soap::boxed(response)
    }
}

/// `value` with its tags dropped, their contents in their place.
fn untagged(value: Value) -> Value {
    match value {
        Value::Tag(_, inner) => untagged(*inner),
        Value::Array(items) => Value::Array(items.into_iter().map(untagged).collect()),
        Value::Map(pairs) => Value::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (untagged(k), untagged(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Adds the parameters of `value`, named `name` (a structure's members under `name.`).
fn flatten(
    name: &str,
    value: &Value,
    depth: usize,
    out: &mut Vec<(String, String)>,
) -> Result<(), CloudWatchError> {
    let invalid = |what: &str| {
        CloudWatchError::InvalidParameterValue(format!("the parameter {name} is {what}"))
    };
    if depth > MAX_DEPTH {
        return Err(invalid("nested too deep"));
    }
    let under = |key: &str| {
        if name.is_empty() {
            key.to_owned()
        } else {
            format!("{name}.{key}")
        }
    };
    let text = match value {
        Value::Null => return Ok(()),
        Value::Map(members) => {
            for (key, member) in members {
                let key = key
                    .as_text()
                    .ok_or_else(|| invalid("a map not keyed by text"))?;
                flatten(&under(key), member, depth + 1, out)?;
            }
            return Ok(());
        }
        Value::Array(items) => {
            for (n, item) in items.iter().enumerate() {
                flatten(&under(&format!("member.{}", n + 1)), item, depth + 1, out)?;
            }
            return Ok(());
        }
        Value::Tag(EPOCH_TAG, epoch) => {
            let seconds = match &**epoch {
                Value::Integer(i) => i64::try_from(*i).ok(),
                Value::Float(f) => whole_seconds(*f),
                _ => None,
            };
            let seconds = seconds.ok_or_else(|| invalid("not a time"))?;
            DateTime::from_unix(seconds).as_str().to_owned()
        }
        Value::Text(text) => text.clone(),
        Value::Integer(i) => i128::from(*i).to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Bytes(_) | Value::Tag(..) => return Err(invalid("of a type not served")),
        _ => return Err(invalid("of an unknown type")),
    };
    out.push((name.to_owned(), text));
    Ok(())
}

/// `seconds` without its fraction, when it is a time CloudWatch can mean.
fn whole_seconds(seconds: f64) -> Option<i64> {
    // Beyond ±2^53 an f64 is no longer a whole number of seconds a person would send.
    const LIMIT: f64 = 9_007_199_254_740_992.0;
    let whole = seconds.floor();
    // Within the bound the conversion is exact.
    (whole.is_finite() && whole.abs() <= LIMIT).then_some(whole as i64)
}

/// The value of an answer's XML `document`: its result's, or an empty map.
fn reply_value(document: &str) -> Result<Value, CloudWatchError> {
    let schema = schema()?;
    let parsed = Document::parse(document.as_bytes(), &Limits::default())
        .map_err(|e| CloudWatchError::Internal(format!("an answer is not XML: {e}")))?;
    let root = parsed.root();
    let local = &*root.name().local;
    let r#type = schema.elements.get(local).ok_or_else(|| unknown(local))?;
    let result = root
        .elements()
        .find(|e| &*e.name().local != "ResponseMetadata");
    let value = match result {
        Some(result) => {
            let field = schema.field(r#type, &result.name().local)?;
            schema.value(result, &field.r#type)?
        }
        None => Value::Map(Vec::new()),
    };
    Ok(value)
}

fn unknown(what: &str) -> CloudWatchError {
    CloudWatchError::Internal(format!("the WSDL's schema has no {what}"))
}

/// The types of the API's elements, as the WSDL's schema declares them.
#[derive(Debug, Default)]
struct Schema {
    /// Each global element's type.
    elements: HashMap<String, String>,
    /// Each complex type's elements.
    types: HashMap<String, Vec<Field>>,
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    /// Its type's local name (`string`, `dateTime`, `DimensionListType`).
    r#type: String,
}

/// The schema of `wsdl/cloudwatch.wsdl`, read once from the copy the generated module holds.
fn schema() -> Result<&'static Schema, CloudWatchError> {
    static SCHEMA: OnceLock<Result<Schema, String>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| Schema::read(wire::cloudwatch::WSDL))
        .as_ref()
        .map_err(|e| CloudWatchError::Internal(e.clone()))
}

/// `prefix:local`'s local part.
fn local_of(qname: &str) -> &str {
    qname.rsplit_once(':').map_or(qname, |(_, local)| local)
}

impl Schema {
    /// The global elements and complex types of `wsdl`'s schema: the subset codegen's AWS
    /// Query binding accepts (sequences of elements, each of a named type).
    fn read(wsdl: &str) -> Result<Self, String> {
        let document = Document::parse(wsdl.as_bytes(), &Limits::default())
            .map_err(|e| format!("the CloudWatch WSDL is not XML: {e}"))?;
        let mut schema = Self::default();
        let types = document
            .root()
            .elements()
            .find(|e| &*e.name().local == "types")
            .ok_or("the CloudWatch WSDL has no types")?;
        for declared in types.elements().flat_map(ElementRef::elements) {
            let name = declared.attribute(None, "name").unwrap_or_default();
            match &*declared.name().local {
                "element" => {
                    let r#type = declared.attribute(None, "type").unwrap_or_default();
                    schema.elements.insert(name.into(), local_of(r#type).into());
                }
                "complexType" => {
                    let fields = declared
                        .elements()
                        .flat_map(ElementRef::elements)
                        .map(|e| Field {
                            name: e.attribute(None, "name").unwrap_or_default().into(),
                            r#type: local_of(e.attribute(None, "type").unwrap_or_default()).into(),
                        })
                        .collect();
                    schema.types.insert(name.into(), fields);
                }
                _ => {}
            }
        }
        Ok(schema)
    }

    /// The field `name` of complex type `owner`.
    fn field(&self, owner: &str, name: &str) -> Result<&Field, CloudWatchError> {
        self.types
            .get(owner)
            .and_then(|fields| fields.iter().find(|f| f.name == name))
            .ok_or_else(|| unknown(&format!("element {name} in {owner}")))
    }

    /// Tags the epochs in `value`, of type `type`, that the schema says are times (a
    /// member the schema does not know is left for the Query binding to refuse).
    fn tag_times(&self, r#type: &str, value: &mut Value) {
        match value {
            Value::Integer(_) | Value::Float(_) if r#type == "dateTime" => {
                let epoch = std::mem::replace(value, Value::Null);
                *value = Value::Tag(EPOCH_TAG, Box::new(epoch));
            }
            Value::Array(items) => {
                if let Some([only]) = self.types.get(r#type).map(Vec::as_slice) {
                    for item in items {
                        self.tag_times(&only.r#type, item);
                    }
                }
            }
            Value::Map(pairs) => {
                for (key, member) in pairs {
                    let field = key.as_text().and_then(|k| self.field(r#type, k).ok());
                    if let Some(field) = field {
                        self.tag_times(&field.r#type, member);
                    }
                }
            }
            _ => {}
        }
    }

    /// The value of `element`, of type `type`.
    fn value(&self, element: ElementRef<'_>, r#type: &str) -> Result<Value, CloudWatchError> {
        if let Some(fields) = self.types.get(r#type) {
            return Ok(match fields.as_slice() {
                // A list: its `member`s in order.
                [only] if only.name == "member" => Value::Array(
                    element
                        .elements()
                        .map(|member| self.value(member, &only.r#type))
                        .collect::<Result<_, _>>()?,
                ),
                _ => Value::Map(
                    element
                        .elements()
                        .map(|member| {
                            let local = &*member.name().local;
                            let field = self.field(r#type, local)?;
                            Ok((Value::from(local), self.value(member, &field.r#type)?))
                        })
                        .collect::<Result<_, CloudWatchError>>()?,
                ),
            });
        }
        let text = element.text().map_err(|e| {
            CloudWatchError::Internal(format!("an answer's {type} is not text: {e}"))
        })?;
        let bad = || CloudWatchError::Internal(format!("an answer's {type} {text:?} is not one"));
        Ok(match r#type {
            "double" | "float" => Value::Float(text.trim().parse().map_err(|_| bad())?),
            "int" | "long" | "integer" => {
                let n: i64 = text.trim().parse().map_err(|_| bad())?;
                Value::Integer(Integer::from(n))
            }
            "boolean" => Value::Bool(bool::from_text(&text).map_err(|_| bad())?),
            "dateTime" => {
                let at = DateTime::from_text(&text).map_err(|_| bad())?;
                Value::Tag(
                    EPOCH_TAG,
                    Box::new(Value::Integer(at.unix_seconds().into())),
                )
            }
            // Strings and the enumerations of strings.
            _ => Value::Text(text.into_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn cbor(value: &Value) -> Vec<u8> {
        Protocol::Cbor.encode(value).unwrap()
    }

    fn parameters(body: &[u8]) -> Result<Vec<(String, String)>, CloudWatchError> {
        Protocol::Cbor.parameters("GetMetricStatistics", body)
    }

    fn reply_value(document: &str) -> Value {
        let cbor = Protocol::Cbor.reply(document).unwrap();
        let value: Value = ciborium::de::from_reader(&cbor[..]).unwrap();
        assert_eq!(value, super::reply_value(document).unwrap());
        value
    }

    fn request(path: &str, target: Option<&str>) -> Parts {
        let mut request = hyper::Request::post(path);
        if let Some(target) = target {
            request = request.header("x-amz-target", target);
        }
        request.body(()).unwrap().into_parts().0
    }

    fn map(pairs: Vec<(&str, Value)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    #[test]
    fn the_operation_is_the_json_target_or_the_last_segment_of_the_cbor_path() {
        let base = "/services/CloudWatch";
        let of = |path, target| {
            let parts = request(path, target);
            Protocol::of(base, &parts).map(|(p, op)| (p, op.to_owned()))
        };
        let cbor =
            "/services/CloudWatch/service/GraniteServiceVersion20100801/operation/ListMetrics";
        assert_eq!(of(cbor, None), Some((Protocol::Cbor, "ListMetrics".into())));
        let target = Some("GraniteServiceVersion20100801.DescribeAlarms");
        assert_eq!(
            of(base, target),
            Some((Protocol::Json, "DescribeAlarms".into()))
        );
        // The Query protocol: no target, or another service's.
        assert_eq!(of(base, None), None);
        assert_eq!(of(base, Some("DynamoDB_20120810.ListTables")), None);
        assert_eq!(
            of(
                "/services/CloudWatch/service/GraniteServiceVersion20100801/operation/",
                None
            ),
            None
        );
    }

    #[test]
    fn a_cbor_map_flattens_into_the_query_parameters_it_stands_for() {
        let body = map(vec![
            ("Namespace", "AWS/EC2".into()),
            (
                "Dimensions",
                Value::Array(vec![map(vec![
                    ("Name", "InstanceId".into()),
                    ("Value", "i-1".into()),
                ])]),
            ),
            (
                "StartTime",
                Value::Tag(EPOCH_TAG, Box::new(Value::Float(1_700_000_000.75))),
            ),
            (
                "EndTime",
                Value::Tag(EPOCH_TAG, Box::new(Value::Integer(1_700_000_600.into()))),
            ),
            ("Period", Value::Integer(300.into())),
            ("Threshold", Value::Float(70.5)),
            ("ActionsEnabled", Value::Bool(false)),
            (
                "Statistics",
                Value::Array(vec!["Average".into(), "Maximum".into()]),
            ),
            ("Unit", Value::Null),
        ]);
        let params = parameters(&cbor(&body)).unwrap();
        let expected = [
            ("Namespace", "AWS/EC2"),
            ("Dimensions.member.1.Name", "InstanceId"),
            ("Dimensions.member.1.Value", "i-1"),
            ("StartTime", "2023-11-14T22:13:20Z"),
            ("EndTime", "2023-11-14T22:23:20Z"),
            ("Period", "300"),
            ("Threshold", "70.5"),
            ("ActionsEnabled", "false"),
            ("Statistics.member.1", "Average"),
            ("Statistics.member.2", "Maximum"),
        ];
        let got: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(got, expected);
        assert!(parameters(b"").unwrap().is_empty());
    }

    #[test]
    fn what_is_not_a_map_of_served_types_is_refused() {
        let refused = |value: &Value| {
            assert!(
                matches!(
                    parameters(&cbor(value)),
                    Err(CloudWatchError::InvalidParameterValue(_))
                ),
                "{value:?}"
            );
        };
        refused(&Value::Array(vec![]));
        refused(&map(vec![("Blob", Value::Bytes(vec![1]))]));
        refused(&map(vec![(
            "StartTime",
            Value::Tag(EPOCH_TAG, Box::new(Value::Float(f64::NAN))),
        )]));
        refused(&Value::Map(vec![(Value::Integer(1.into()), "x".into())]));
        let mut deep = Value::Text("x".into());
        for _ in 0..=MAX_DEPTH {
            deep = map(vec![("A", deep)]);
        }
        refused(&deep);
        assert!(parameters(b"\xff\x00").is_err(), "not CBOR");
    }

    #[test]
    fn an_answer_becomes_a_map_typed_by_the_schema() {
        let document = r#"<?xml version="1.0" encoding="UTF-8"?>
<cw:GetMetricStatisticsResponse xmlns:cw="http://monitoring.amazonaws.com/doc/2010-08-01/">
  <cw:GetMetricStatisticsResult>
    <cw:Label>CPUUtilization</cw:Label>
    <cw:Datapoints>
      <cw:member><cw:Timestamp>2023-11-14T22:10:00Z</cw:Timestamp><cw:SampleCount>3</cw:SampleCount><cw:Average>20.5</cw:Average><cw:Unit>Percent</cw:Unit></cw:member>
    </cw:Datapoints>
  </cw:GetMetricStatisticsResult>
  <cw:ResponseMetadata><cw:RequestId>r-1</cw:RequestId></cw:ResponseMetadata>
</cw:GetMetricStatisticsResponse>"#;
        let reply = reply_value(document);
        let point = map(vec![
            (
                "Timestamp",
                Value::Tag(EPOCH_TAG, Box::new(Value::Integer(1_699_999_800.into()))),
            ),
            ("SampleCount", Value::Float(3.0)),
            ("Average", Value::Float(20.5)),
            ("Unit", "Percent".into()),
        ]);
        let expected = map(vec![
            ("Label", "CPUUtilization".into()),
            ("Datapoints", Value::Array(vec![point])),
        ]);
        assert_eq!(reply, expected);
    }

    #[test]
    fn alarms_keep_their_integers_booleans_and_empty_lists() {
        let document = r#"<DescribeAlarmsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">
  <DescribeAlarmsResult><MetricAlarms><member>
    <AlarmName>busy</AlarmName><ActionsEnabled>true</ActionsEnabled><OKActions/>
    <Period>300</Period><Threshold>70</Threshold>
  </member></MetricAlarms></DescribeAlarmsResult>
  <ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata>
</DescribeAlarmsResponse>"#;
        let reply = reply_value(document);
        let alarm = map(vec![
            ("AlarmName", "busy".into()),
            ("ActionsEnabled", Value::Bool(true)),
            ("OKActions", Value::Array(vec![])),
            ("Period", Value::Integer(300.into())),
            ("Threshold", Value::Float(70.0)),
        ]);
        assert_eq!(
            reply,
            map(vec![("MetricAlarms", Value::Array(vec![alarm]))])
        );
        // An operation that answers nothing answers an empty map.
        let empty = r#"<DeleteAlarmsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteAlarmsResponse>"#;
        assert_eq!(reply_value(empty), Value::Map(vec![]));
    }

    #[test]
    fn json_times_are_told_apart_by_the_schema_and_answered_as_bare_epochs() {
        let body = br#"{"Namespace": "AWS/EC2", "StartTime": 1700000000.5, "Period": 300,
            "Dimensions": [{"Name": "InstanceId", "Value": "i-1"}]}"#;
        let params = Protocol::Json
            .parameters("GetMetricStatistics", body)
            .unwrap();
        let got: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("Namespace", "AWS/EC2"),
                ("StartTime", "2023-11-14T22:13:20Z"),
                ("Period", "300"),
                ("Dimensions.member.1.Name", "InstanceId"),
                ("Dimensions.member.1.Value", "i-1"),
            ]
        );
        let document = r#"<GetMetricStatisticsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><GetMetricStatisticsResult><Label>CPUUtilization</Label><Datapoints><member><Timestamp>2023-11-14T22:10:00Z</Timestamp><Maximum>40</Maximum><Unit>Percent</Unit></member></Datapoints></GetMetricStatisticsResult></GetMetricStatisticsResponse>"#;
        let json: serde_json::Value =
            serde_json::from_slice(&Protocol::Json.reply(document).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"Label": "CPUUtilization", "Datapoints": [
                {"Timestamp": 1_699_999_800, "Maximum": 40.0, "Unit": "Percent"}]})
        );
        assert!(Protocol::Json.parameters("ListMetrics", b"[1]").is_err());
        assert!(Protocol::Json.parameters("ListMetrics", b"{").is_err());
    }

    #[test]
    fn failures_carry_their_code_in_the_body_and_the_query_error_header() {
        let error = CloudWatchError::ResourceNotFound("alarm x".into());
        for protocol in [Protocol::Json, Protocol::Cbor] {
            let response = protocol.failure(&error, "r-3");
            assert_eq!(response.status(), StatusCode::NOT_FOUND);
            assert_eq!(
                response.headers()["x-amzn-query-error"],
                "ResourceNotFound;Sender"
            );
            assert_eq!(response.headers()["x-amzn-requestid"], "r-3");
            assert_eq!(response.headers()[CONTENT_TYPE], protocol.content_type());
        }
    }
}
