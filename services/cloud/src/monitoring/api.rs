//! The CloudWatch Query API at `/services/CloudWatch` (API version 2010-08-01), as
//! Eucalyptus 3 served it: requests read and authenticated as the EC2 and IAM Query APIs'
//! are (`crate::query`: GET or form POST, SigV2 or SigV4 with service `monitoring`), typed
//! by the generated AWS Query binding of `wsdl/cloudwatch.wsdl` (`wire::cloudwatch`),
//! authorized as `cloudwatch:<Action>` by the caller's policies, and answered from the
//! caller's account's instances alone. Every failure becomes CloudWatch's error document
//! in [`super::error`], and only there. The same requests also come over
//! AWS JSON 1.0 and rpc-v2-cbor, the protocols stock botocore speaks ([`super::rpc`]): read
//! into the same parameters, answered by the same code, their answers and failures encoded
//! as JSON or CBOR.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, Response};
use soap::{Connection, Handler, HttpBody};
use users::events::Component;
use wire::cloudwatch::{
    ActionListType, CloudWatchPortTypeRequest as R, ComparisonOperatorType, DatapointListType,
    DatapointType, DeleteAlarmsResponseType, DeleteAlarmsType, DescribeAlarmsForMetricResponseType,
    DescribeAlarmsForMetricResultType, DescribeAlarmsForMetricType, DescribeAlarmsResponseType,
    DescribeAlarmsResultType, DescribeAlarmsType, DimensionListType, DimensionType,
    GetMetricStatisticsResponseType, GetMetricStatisticsResultType, GetMetricStatisticsType,
    ListMetricsResponseType, ListMetricsResultType, ListMetricsType, MetricAlarmListType,
    MetricAlarmType, MetricListType, MetricType, PutMetricAlarmResponseType, PutMetricAlarmType,
    PutMetricDataResponseType, PutMetricDataType, ResponseMetadataType, StateValueType,
    StatisticType,
};
use wire::query::QueryParams;
use xmlbind::{DateTime, ToXml, XmlText};

use super::alarms;
use super::error::CloudWatchError;
use super::rpc::Protocol;
use super::statistics;
use super::webhook;
use super::{
    document, Alarm, AlarmState, Comparison, Metric, Sample, StateChange, Statistic, INSTANCE_ID,
    NAMESPACE, POINT_SECONDS,
};
use crate::ops::{self, Cloud};
use crate::params::Params;
use crate::query::{self, Asker, QueryRequest, Service};
use crate::store::User;

/// Where the front door serves the API.
pub const PATH: &str = "/services/CloudWatch";

/// The CloudWatch API, as its signatures name it: boto3's and the AWS CLI's `cloudwatch`
/// client sign service `monitoring`.
pub const CLOUDWATCH: Service = Service {
    name: "cloudwatch",
    path: PATH,
    signing_names: &["monitoring"],
};

/// ListMetrics' page.
const METRICS_PAGE: usize = 500;
/// DescribeAlarms' page when MaxRecords is not given, and its largest.
const ALARMS_PAGE: usize = 50;
const MAX_ALARMS_PAGE: usize = 100;
/// The most URLs one state's actions may hold, as CloudWatch limits them.
const MAX_ACTIONS: usize = 5;
/// The longest an alarm may look back (Period × EvaluationPeriods): one day.
const MAX_EVALUATION_SECONDS: i64 = 86_400;
/// The most alarms one DeleteAlarms names.
const MAX_DELETE: usize = 100;
/// The most data one PutMetricData holds, as CloudWatch limits them.
const MAX_DATA: usize = 1000;

type Answer = Result<Box<dyn ToXml + Send + Sync>, CloudWatchError>;

/// The API, for mounting on the front door at [`PATH`].
pub fn handler(cloud: Arc<Cloud>) -> impl Handler {
    move |request, connection: Connection| handle(Arc::clone(&cloud), request, connection)
}

async fn handle(
    cloud: Arc<Cloud>,
    request: Request<Incoming>,
    connection: Connection,
) -> Response<HttpBody> {
    let id = ops::request_id();
    let span = query::span(&CLOUDWATCH, &id, &connection, &request);
    let asker = Asker::new(Component::CloudWatch, connection.peer.ip());
    let (parts, body) = request.into_parts();
    match Protocol::of(PATH, &parts).map(|(protocol, op)| (protocol, op.to_owned())) {
        Some((protocol, operation)) => {
            let work = async {
                let body = query::read_body(body).await?;
                let params = protocol
                    .parameters(&operation, &query::decoded_body(&parts.headers, &body)?)?;
                let request = QueryRequest::with_params(
                    &parts,
                    &body,
                    &CLOUDWATCH,
                    Params::from_pairs(params),
                );
                let (user, action, params) =
                    query::identify(&*cloud.store, &request, &asker, &operation).await?;
                let document = answer(&cloud, &asker, user, action, params, &id).await?;
                protocol.reply(&document)
            };
            let render = |answered: Result<Vec<u8>, CloudWatchError>| match answered {
                Ok(body) => protocol.response(hyper::StatusCode::OK, body, &id),
                Err(e) => protocol.failure(&e, &id),
            };
            query::respond_as(&cloud, span, &asker, work, render).await
        }
        None => {
            let request = Request::from_parts(parts, body);
            let work = async {
                let (user, action, params) =
                    query::read_authenticated(&*cloud.store, request, &asker, &CLOUDWATCH).await?;
                answer(&cloud, &asker, user, action, params, &id).await
            };
            query::respond(&cloud, span, &asker, work, &id).await
        }
    }
}

/// Answers `user`'s authenticated request for `action` with `params` (from what `asker`
/// learnt), as its XML document.
async fn answer(
    cloud: &Cloud,
    asker: &Asker,
    user: &User,
    action: &str,
    mut params: QueryParams,
    request_id: &str,
) -> Result<String, CloudWatchError> {
    let request = R::from_query(action, &mut params)?;
    params.finish()?;
    let operation = request.operation();
    let permission = format!("cloudwatch:{}", operation.name);
    if !ops::allows(cloud, user, &permission, Some(asker.source)).await? {
        return Err(CloudWatchError::AccessDenied(format!(
            "User: {} is not authorized to perform: {permission}",
            user.arn()
        )));
    }
    let call = Call {
        cloud,
        caller: user,
        request_id,
    };
    let (_, local) = operation.response;
    let body = match request {
        R::ListMetrics(r) => list_metrics(&call, r).await,
        R::GetMetricStatistics(r) => get_metric_statistics(&call, r).await,
        R::PutMetricAlarm(r) => put_metric_alarm(&call, r).await,
        R::DescribeAlarms(r) => describe_alarms(&call, r).await,
        R::DescribeAlarmsForMetric(r) => describe_alarms_for_metric(&call, r).await,
        R::DeleteAlarms(r) => delete_alarms(&call, r).await,
        R::PutMetricData(r) => put_metric_data(&call, r).await,
    }?;
    Ok(document(&*body, local))
}

/// Who calls, and for which request.
struct Call<'a> {
    cloud: &'a Cloud,
    caller: &'a User,
    request_id: &'a str,
}

impl Call<'_> {
    fn metadata(&self) -> ResponseMetadataType {
        ResponseMetadataType {
            request_id: self.request_id.to_owned(),
        }
    }

    fn account(&self) -> &str {
        &self.caller.account
    }

    /// Whether the caller's account has points of `instance`'s `metric`.
    async fn measures(&self, instance: &str, metric: Metric) -> Result<bool, CloudWatchError> {
        let metrics = self.cloud.store.metrics(Some(self.account())).await?;
        Ok(metrics.iter().any(|(i, m)| i == instance && *m == metric))
    }
}

/// The one instance `dimensions` name, when they are exactly `InstanceId=...`.
fn instance_of(dimensions: Option<&DimensionListType>) -> Option<&str> {
    match dimensions.map(|d| d.member.as_slice()) {
        Some([only]) if only.name == INSTANCE_ID => Some(&only.value),
        _ => None,
    }
}

fn dimensions(instance: &str) -> DimensionListType {
    DimensionListType {
        member: vec![DimensionType {
            name: INSTANCE_ID.to_owned(),
            value: instance.to_owned(),
        }],
    }
}

/// The metric `namespace` and `name` name, when it is one of the instances'.
fn metric_of(namespace: &str, name: &str) -> Option<Metric> {
    (namespace == NAMESPACE)
        .then(|| Metric::from_name(name))
        .flatten()
}

/// The generated enumerations and ours share their names.
fn statistic(wire: &StatisticType) -> Statistic {
    Statistic::from_name(&wire.to_text()).unwrap_or(Statistic::Average)
}

fn wire_statistic(statistic: Statistic) -> StatisticType {
    StatisticType::from_text(statistic.name()).unwrap_or_default()
}

fn comparison(wire: &ComparisonOperatorType) -> Comparison {
    Comparison::from_name(&wire.to_text()).unwrap_or(Comparison::GreaterThanThreshold)
}

fn wire_state(state: AlarmState) -> StateValueType {
    StateValueType::from_text(state.name()).unwrap_or_default()
}

/// The index a NextToken of ours stands for.
fn page_start(token: Option<&str>) -> Result<usize, CloudWatchError> {
    token.map_or(Ok(0), |t| {
        t.parse()
            .map_err(|_| CloudWatchError::InvalidNextToken(t.to_owned()))
    })
}

/// `items[start..]` cut to `size`, with the token of the next page when there is one.
fn page<T>(items: Vec<T>, start: usize, size: usize) -> (Vec<T>, Option<String>) {
    let end = start.saturating_add(size);
    let next = (items.len() > end).then(|| end.to_string());
    (items.into_iter().skip(start).take(size).collect(), next)
}

async fn list_metrics(call: &Call<'_>, r: ListMetricsType) -> Answer {
    let start = page_start(r.next_token.as_deref())?;
    let namespace_matches = r.namespace.as_deref().is_none_or(|n| n == NAMESPACE);
    let filters = r.dimensions.map(|d| d.member).unwrap_or_default();
    let metrics = call.cloud.store.metrics(Some(call.account())).await?;
    let found: Vec<MetricType> = metrics
        .into_iter()
        .filter(|_| namespace_matches)
        .filter(|(_, m)| r.metric_name.as_deref().is_none_or(|n| n == m.name()))
        .filter(|(instance, _)| {
            filters
                .iter()
                .all(|f| f.name == INSTANCE_ID && f.value.as_deref().is_none_or(|v| v == instance))
        })
        .map(|(instance, metric)| MetricType {
            namespace: NAMESPACE.to_owned(),
            metric_name: metric.name().to_owned(),
            dimensions: dimensions(&instance),
        })
        .collect();
    let (member, next_token) = page(found, start, METRICS_PAGE);
    Ok(Box::new(ListMetricsResponseType {
        list_metrics_result: ListMetricsResultType {
            metrics: MetricListType { member },
            next_token,
        },
        response_metadata: call.metadata(),
    }))
}

async fn get_metric_statistics(call: &Call<'_>, r: GetMetricStatisticsType) -> Answer {
    if r.extended_statistics.is_some_and(|e| !e.member.is_empty()) {
        return Err(CloudWatchError::InvalidParameterValue(
            "ExtendedStatistics (percentiles) are not kept: ask for Statistics.".into(),
        ));
    }
    let wanted: Vec<Statistic> = r
        .statistics
        .map(|s| s.member.iter().map(statistic).collect())
        .unwrap_or_default();
    if wanted.is_empty() {
        return Err(CloudWatchError::MissingParameter("Statistics".into()));
    }
    let (start, end) = (r.start_time.unix_seconds(), r.end_time.unix_seconds());
    let period = i64::from(r.period);
    statistics::check(start, end, period)?;
    let metric = metric_of(&r.namespace, &r.metric_name);
    let instance = instance_of(r.dimensions.as_ref());
    let mut member = Vec::new();
    if let (Some(metric), Some(instance)) = (metric, instance) {
        let unit_matches = r.unit.as_deref().is_none_or(|u| u == metric.unit());
        if unit_matches && call.measures(instance, metric).await? {
            let points = call
                .cloud
                .store
                .points(instance, metric, start, end)
                .await?;
            for datapoint in statistics::statistics(&points, start, end, period)? {
                let value = |s: Statistic| wanted.contains(&s).then(|| s.of(&datapoint.samples));
                member.push(DatapointType {
                    timestamp: DateTime::from_unix(datapoint.start),
                    sample_count: value(Statistic::SampleCount),
                    average: value(Statistic::Average),
                    sum: value(Statistic::Sum),
                    minimum: value(Statistic::Minimum),
                    maximum: value(Statistic::Maximum),
                    unit: metric.unit().to_owned(),
                });
            }
        }
    }
    Ok(Box::new(GetMetricStatisticsResponseType {
        get_metric_statistics_result: GetMetricStatisticsResultType {
            label: r.metric_name,
            datapoints: DatapointListType { member },
        },
        response_metadata: call.metadata(),
    }))
}

/// The URLs of one state's actions, each a webhook.
fn actions(list: Option<ActionListType>, parameter: &str) -> Result<Vec<String>, CloudWatchError> {
    let urls = list.map(|l| l.member).unwrap_or_default();
    if urls.len() > MAX_ACTIONS {
        return Err(CloudWatchError::LimitExceeded(format!(
            "The parameter {parameter} holds more than {MAX_ACTIONS} actions."
        )));
    }
    if let Some(bad) = urls.iter().find(|u| !webhook::is_webhook(u)) {
        return Err(CloudWatchError::InvalidParameterValue(format!(
            "The action {bad:?} of {parameter} is not an http or https URL: alarms here call webhooks."
        )));
    }
    Ok(urls)
}

async fn put_metric_alarm(call: &Call<'_>, r: PutMetricAlarmType) -> Answer {
    let invalid = CloudWatchError::InvalidParameterValue;
    if r.alarm_name.is_empty() || r.alarm_name.len() > 255 {
        return Err(invalid(
            "The parameter AlarmName must be 1 to 255 characters long.".into(),
        ));
    }
    let metric = metric_of(&r.namespace, &r.metric_name).ok_or_else(|| {
        invalid(format!(
            "Alarms watch the {NAMESPACE} metrics {}: not {}/{}.",
            Metric::ALL.map(Metric::name).join(", "),
            r.namespace,
            r.metric_name
        ))
    })?;
    let instance = instance_of(r.dimensions.as_ref())
        .ok_or_else(|| {
            invalid(format!(
                "Alarms watch one instance: give the one dimension {INSTANCE_ID}."
            ))
        })?
        .to_owned();
    let period = i64::from(r.period);
    if period < POINT_SECONDS || period % 60 != 0 {
        return Err(invalid(format!(
            "The parameter Period must be a multiple of 60 and at least {POINT_SECONDS}."
        )));
    }
    let evaluation_periods = u32::try_from(r.evaluation_periods)
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| invalid("The parameter EvaluationPeriods must be at least 1.".into()))?;
    if period * i64::from(evaluation_periods) > MAX_EVALUATION_SECONDS {
        return Err(CloudWatchError::InvalidParameterCombination(
            "Period times EvaluationPeriods must not be more than one day (86400 seconds).".into(),
        ));
    }
    if !r.threshold.is_finite() {
        return Err(invalid("The parameter Threshold must be a number.".into()));
    }
    if let Some(unit) = r.unit.as_deref().filter(|u| *u != metric.unit()) {
        return Err(invalid(format!(
            "The unit of {metric} is {}, not {unit}.",
            metric.unit()
        )));
    }
    let owned = call.cloud.store.instances(Some(call.account())).await?;
    if !owned.iter().any(|i| i.id == instance) {
        return Err(invalid(format!(
            "The instance ID '{instance}' does not exist in this account."
        )));
    }
    let now = kit::time::now();
    let alarm = Alarm {
        owner: call.account().to_owned(),
        name: r.alarm_name,
        description: r.alarm_description,
        actions_enabled: r.actions_enabled.unwrap_or(true),
        ok_actions: actions(r.ok_actions, "OKActions")?,
        alarm_actions: actions(r.alarm_actions, "AlarmActions")?,
        insufficient_data_actions: actions(r.insufficient_data_actions, "InsufficientDataActions")?,
        metric,
        instance,
        statistic: statistic(&r.statistic),
        period,
        unit: r.unit,
        evaluation_periods,
        threshold: r.threshold,
        comparison: comparison(&r.comparison_operator),
        state: StateChange {
            state: AlarmState::InsufficientData,
            reason: "Unchecked: Initial alarm creation".into(),
            at: now,
        },
        updated: now,
    };
    call.cloud.store.put_alarm(&alarm).await?;
    // Evaluated at once, in the state the store kept (a replaced alarm keeps its own).
    let stored = call.cloud.store.alarms(Some(call.account())).await?;
    if let Some(alarm) = stored.iter().find(|a| a.name == alarm.name) {
        alarms::evaluate(call.cloud, alarm).await?;
    }
    Ok(Box::new(PutMetricAlarmResponseType {
        response_metadata: call.metadata(),
    }))
}

/// An alarm as DescribeAlarms shows it.
fn metric_alarm(alarm: Alarm, region: &str, account_id: &str) -> MetricAlarmType {
    MetricAlarmType {
        alarm_arn: format!(
            "arn:aws:cloudwatch:{region}:{account_id}:alarm:{}",
            alarm.name
        ),
        alarm_name: alarm.name,
        alarm_description: alarm.description,
        alarm_configuration_updated_timestamp: DateTime::from_unix(alarm.updated),
        actions_enabled: alarm.actions_enabled,
        ok_actions: ActionListType {
            member: alarm.ok_actions,
        },
        alarm_actions: ActionListType {
            member: alarm.alarm_actions,
        },
        insufficient_data_actions: ActionListType {
            member: alarm.insufficient_data_actions,
        },
        state_value: wire_state(alarm.state.state),
        state_reason: alarm.state.reason,
        state_updated_timestamp: DateTime::from_unix(alarm.state.at),
        metric_name: alarm.metric.name().to_owned(),
        namespace: NAMESPACE.to_owned(),
        statistic: wire_statistic(alarm.statistic),
        dimensions: dimensions(&alarm.instance),
        period: i32::try_from(alarm.period).unwrap_or(i32::MAX),
        unit: alarm.unit,
        evaluation_periods: i32::try_from(alarm.evaluation_periods).unwrap_or(i32::MAX),
        threshold: alarm.threshold,
        comparison_operator: ComparisonOperatorType::from_text(alarm.comparison.name())
            .unwrap_or_default(),
    }
}

/// The caller's account's alarms that `keep` keeps, as DescribeAlarms shows them.
async fn shown_alarms(
    call: &Call<'_>,
    keep: impl Fn(&Alarm) -> bool,
) -> Result<Vec<MetricAlarmType>, CloudWatchError> {
    let account = call.account();
    let account_id = call
        .cloud
        .store
        .directory()
        .account(account)
        .await
        .map_err(crate::store::StoreError::from)?
        .map(|a| a.id)
        .unwrap_or_default();
    let alarms = call.cloud.store.alarms(Some(account)).await?;
    Ok(alarms
        .into_iter()
        .filter(|a| keep(a))
        .map(|a| metric_alarm(a, &call.cloud.region, &account_id))
        .collect())
}

async fn describe_alarms(call: &Call<'_>, r: DescribeAlarmsType) -> Answer {
    let start = page_start(r.next_token.as_deref())?;
    let size = match r.max_records {
        None => ALARMS_PAGE,
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_ALARMS_PAGE).contains(n))
            .ok_or_else(|| {
                CloudWatchError::InvalidParameterValue(format!(
                    "The parameter MaxRecords must be from 1 to {MAX_ALARMS_PAGE}."
                ))
            })?,
    };
    let names = r.alarm_names.map(|n| n.member).unwrap_or_default();
    let state = r.state_value.map(|s| s.to_text().into_owned());
    let shown = shown_alarms(call, |a| {
        (names.is_empty() || names.contains(&a.name))
            && r.alarm_name_prefix
                .as_deref()
                .is_none_or(|p| a.name.starts_with(p))
            && state.as_deref().is_none_or(|s| s == a.state.state.name())
            && r.action_prefix.as_deref().is_none_or(|p| {
                [
                    &a.ok_actions,
                    &a.alarm_actions,
                    &a.insufficient_data_actions,
                ]
                .into_iter()
                .flatten()
                .any(|u| u.starts_with(p))
            })
    })
    .await?;
    let (member, next_token) = page(shown, start, size);
    Ok(Box::new(DescribeAlarmsResponseType {
        describe_alarms_result: DescribeAlarmsResultType {
            metric_alarms: MetricAlarmListType { member },
            next_token,
        },
        response_metadata: call.metadata(),
    }))
}

async fn describe_alarms_for_metric(call: &Call<'_>, r: DescribeAlarmsForMetricType) -> Answer {
    let metric = metric_of(&r.namespace, &r.metric_name);
    let instance = instance_of(r.dimensions.as_ref()).map(str::to_owned);
    let wanted = r.statistic.as_ref().map(statistic);
    let shown = shown_alarms(call, |a| {
        Some(a.metric) == metric
            && instance.as_deref().is_none_or(|i| i == a.instance)
            && wanted.is_none_or(|s| s == a.statistic)
            && r.period.is_none_or(|p| i64::from(p) == a.period)
            && r.unit
                .as_deref()
                .is_none_or(|u| a.unit.as_deref() == Some(u))
    })
    .await?;
    Ok(Box::new(DescribeAlarmsForMetricResponseType {
        describe_alarms_for_metric_result: DescribeAlarmsForMetricResultType {
            metric_alarms: MetricAlarmListType { member: shown },
        },
        response_metadata: call.metadata(),
    }))
}

async fn delete_alarms(call: &Call<'_>, r: DeleteAlarmsType) -> Answer {
    let names = r.alarm_names.member;
    if names.is_empty() || names.len() > MAX_DELETE {
        return Err(CloudWatchError::InvalidParameterValue(format!(
            "The parameter AlarmNames must name 1 to {MAX_DELETE} alarms."
        )));
    }
    let existing = call.cloud.store.alarms(Some(call.account())).await?;
    if let Some(missing) = names
        .iter()
        .find(|n| !existing.iter().any(|a| &a.name == *n))
    {
        return Err(CloudWatchError::ResourceNotFound(format!(
            "the alarm {missing}"
        )));
    }
    call.cloud
        .store
        .delete_alarms(call.account(), &names)
        .await?;
    Ok(Box::new(DeleteAlarmsResponseType {
        response_metadata: call.metadata(),
    }))
}

/// The cloud's own samples of its instances (`AWS/EC2`), put by its administrator: recorded
/// as the sensors' are, into the instances' accounts' points.
async fn put_metric_data(call: &Call<'_>, r: PutMetricDataType) -> Answer {
    let invalid = CloudWatchError::InvalidParameterValue;
    if r.namespace != NAMESPACE {
        return Err(invalid(format!(
            "The namespace {} is not kept: this cloud keeps its instances' metrics ({NAMESPACE}) alone.",
            r.namespace
        )));
    }
    if !call.caller.admin {
        return Err(CloudWatchError::AccessDenied(format!(
            "The namespace {NAMESPACE} is the cloud's own: only the cloud administrator puts data in it."
        )));
    }
    let data = r.metric_data.member;
    if data.is_empty() || data.len() > MAX_DATA {
        return Err(invalid(format!(
            "The parameter MetricData must hold 1 to {MAX_DATA} data."
        )));
    }
    let now = std::time::SystemTime::now();
    let mut samples = Vec::with_capacity(data.len());
    for datum in data {
        let metric = Metric::from_name(&datum.metric_name).ok_or_else(|| {
            invalid(format!(
                "The metric {} is not one of {NAMESPACE}'s: {}.",
                datum.metric_name,
                Metric::ALL.map(Metric::name).join(", ")
            ))
        })?;
        let instance = instance_of(datum.dimensions.as_ref()).ok_or_else(|| {
            invalid(format!(
                "Each datum names one instance: the one dimension {INSTANCE_ID}."
            ))
        })?;
        if let Some(unit) = datum.unit.as_deref().filter(|u| *u != metric.unit()) {
            return Err(invalid(format!(
                "The unit of {metric} is {}, not {unit}.",
                metric.unit()
            )));
        }
        let value = datum
            .value
            .filter(|v| v.is_finite())
            .ok_or_else(|| CloudWatchError::MissingParameter("MetricData.member.N.Value".into()))?;
        let at = datum.timestamp.map_or(now, |t| {
            let secs = u64::try_from(t.unix_seconds()).unwrap_or(0);
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)
        });
        samples.push(Sample {
            instance: instance.to_owned(),
            metric,
            at,
            value,
        });
    }
    call.cloud.record_samples(samples).await?;
    Ok(Box::new(PutMetricDataResponseType {
        response_metadata: call.metadata(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cut_where_their_token_says_and_name_the_next() {
        let items: Vec<u32> = (0..7).collect();
        assert_eq!(page(items.clone(), 0, 3), (vec![0, 1, 2], Some("3".into())));
        assert_eq!(page(items.clone(), 6, 3), (vec![6], None));
        assert_eq!(page_start(Some("3")).ok(), Some(3));
        assert!(matches!(
            page_start(Some("x")),
            Err(CloudWatchError::InvalidNextToken(_))
        ));
    }

    #[test]
    fn an_instance_is_named_by_exactly_one_instance_id_dimension() {
        let one = dimensions("i-1");
        assert_eq!(instance_of(Some(&one)), Some("i-1"));
        let other = DimensionListType {
            member: vec![DimensionType {
                name: "AutoScalingGroupName".into(),
                value: "g".into(),
            }],
        };
        assert_eq!(instance_of(Some(&other)), None);
        assert_eq!(instance_of(None), None);
        assert_eq!(metric_of("AWS/EC2", "NetworkIn"), Some(Metric::NetworkIn));
        assert_eq!(metric_of("AWS/EBS", "NetworkIn"), None);
        for s in Statistic::ALL {
            assert_eq!(statistic(&wire_statistic(s)), s);
        }
    }
}
