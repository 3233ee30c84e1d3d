//! `/instances`: the instances the viewer may see (every account's for the cloud admin, with
//! `verbose` as euca2ools asks; their own account's for a user), filtered by account, state,
//! zone and id; `/instances/{id}`: one instance, its console output, and reboot and
//! terminate. Everything goes through `ops::ask` as the viewer, as the EC2 API would.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use maud::{html, Markup};
use wire::ec2::{
    AmazonEc2PortTypeRequest as R, DescribeInstancesInfoType, DescribeInstancesItemType,
    DescribeInstancesResponseType, DescribeInstancesType, GetConsoleOutputResponseType,
    GetConsoleOutputType, RebootInstancesInfoType, RebootInstancesItemType,
    RebootInstancesResponseType, RebootInstancesType, TerminateInstancesInfoType,
    TerminateInstancesItemType, TerminateInstancesResponseType, TerminateInstancesType,
};
use wire::ec2_query::Ec2QueryRequest;
use wire::query::Filter;

use super::button;
use super::controls::{ec2, optional};
use crate::console::{ConsoleError, Ctx, Form, Reply, Request};
use crate::monitoring::{self, Metric};
use crate::ops;

/// Where an instance's page is: `/instances/{id}`.
const PREFIX: &str = "/instances/";

/// What the list is narrowed to, from its query (`?account=&state=&zone=&id=`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Narrowing {
    /// An account's name or id (the cloud admin's list only).
    pub account: Option<String>,
    /// An EC2 state name (`running`).
    pub state: Option<String>,
    pub zone: Option<String>,
    pub id: Option<String>,
}

impl Narrowing {
    pub fn from_query(query: &Form) -> Self {
        Self {
            account: optional(query, "account"),
            state: optional(query, "state"),
            zone: optional(query, "zone"),
            id: optional(query, "id"),
        }
    }

    /// The EC2 filters of DescribeInstances that do the narrowing (but the account's).
    fn filters(&self) -> Vec<Filter> {
        [
            ("instance-state-name", &self.state),
            ("availability-zone", &self.zone),
            ("instance-id", &self.id),
        ]
        .into_iter()
        .filter_map(|(name, value)| {
            Some(Filter {
                name: name.to_owned(),
                values: vec![value.clone()?],
            })
        })
        .collect()
    }
}

/// One instance as the pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    pub reservation: String,
    /// The owning account's name (its id when the directory no longer has it).
    pub account: String,
    pub state: String,
    pub vm_type: String,
    pub zone: String,
    pub image: String,
    pub kernel: Option<String>,
    pub ramdisk: Option<String>,
    pub key_name: Option<String>,
    pub private_ip: String,
    pub public_ip: String,
    pub launched: String,
}

/// The rows of a DescribeInstances answer; `names` maps account ids to names.
pub fn rows(answer: DescribeInstancesResponseType, names: &HashMap<String, String>) -> Vec<Row> {
    answer
        .reservation_set
        .item
        .into_iter()
        .flat_map(|reservation| {
            let account = names
                .get(&reservation.owner_id)
                .cloned()
                .unwrap_or_else(|| reservation.owner_id.clone());
            let id = reservation.reservation_id;
            reservation
                .instances_set
                .item
                .into_iter()
                .map(move |i| Row {
                    id: i.instance_id,
                    reservation: id.clone(),
                    account: account.clone(),
                    state: i.instance_state.name,
                    vm_type: i.instance_type,
                    zone: i.placement.map(|p| p.availability_zone).unwrap_or_default(),
                    image: i.image_id,
                    kernel: i.kernel_id,
                    ramdisk: i.ramdisk_id,
                    key_name: i.key_name,
                    private_ip: i.private_dns_name,
                    public_ip: i.dns_name,
                    launched: i.launch_time.as_str().to_owned(),
                })
        })
        .collect()
}

/// The instances `ctx`'s viewer may see, narrowed by `narrowing`.
async fn described(ctx: &Ctx, narrowing: &Narrowing) -> Result<Vec<Row>, ConsoleError> {
    // The cloud admin's `verbose` lists every account's, as euca-describe-instances does.
    let item = ctx
        .viewer
        .admin
        .then(|| DescribeInstancesItemType {
            instance_id: "verbose".into(),
        })
        .into_iter()
        .collect();
    let mut request = ec2(R::DescribeInstances(DescribeInstancesType {
        instances_set: DescribeInstancesInfoType { item },
    }));
    request.filters = narrowing.filters();
    let answer: DescribeInstancesResponseType = ops::ask(&ctx.cloud, &ctx.viewer, request).await?;
    let names: HashMap<String, String> = ctx
        .cloud
        .store
        .directory()
        .accounts()
        .await?
        .into_iter()
        .map(|a| (a.id, a.name))
        .collect();
    let mut rows = rows(answer, &names);
    if let Some(account) = narrowing.account.as_deref().filter(|_| ctx.viewer.admin) {
        // An account's id names it as well as its name does.
        let wanted = names.get(account).map_or(account, String::as_str);
        rows.retain(|r| r.account == wanted);
    }
    Ok(rows)
}

/// `GET /instances`.
pub async fn list(ctx: Ctx, req: Request) -> Result<Reply, ConsoleError> {
    let narrowing = Narrowing::from_query(&req.query);
    let rows = described(&ctx, &narrowing).await?;
    Ok(Reply::page(
        "Instances",
        list_page(ctx.viewer.admin, &narrowing, &rows),
    ))
}

/// The list: the narrowing form, then a table linking each instance to its page.
pub fn list_page(admin: bool, narrowing: &Narrowing, rows: &[Row]) -> Markup {
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    html! {
        form.narrow method="get" action="/instances" {
            @if admin {
                label { "Account " input name="account" value=(value(&narrowing.account)); }
            }
            label { "State "
                select name="state" {
                    option value="" { "any" }
                    @for state in ["pending", "running", "shutting-down", "terminated"] {
                        option value=(state) selected[narrowing.state.as_deref() == Some(state)] { (state) }
                    }
                }
            }
            label { "Zone " input name="zone" value=(value(&narrowing.zone)); }
            label { "Id " input name="id" value=(value(&narrowing.id)); }
            button type="submit" { "Filter" }
        }
        @if rows.is_empty() {
            p.empty { "No instances." }
        } @else {
            table #instances {
                thead { tr {
                    th { "Instance" } th { "Account" } th { "State" } th { "Type" }
                    th { "Zone" } th { "Image" } th { "Private IP" } th { "Public IP" }
                    th { "Launched" }
                } }
                tbody {
                    @for r in rows {
                        tr data-state=(r.state) {
                            td { a href={ (PREFIX) (r.id) } { (r.id) } }
                            td { (r.account) } td.state { (r.state) } td { (r.vm_type) }
                            td { (r.zone) } td { (r.image) } td { (r.private_ip) }
                            td { (r.public_ip) } td { (r.launched) }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /instances/{id}`.
pub async fn show(ctx: Ctx, req: Request) -> Result<Reply, ConsoleError> {
    let id = req.last_segment().to_owned();
    let narrowing = Narrowing {
        id: Some(id.clone()),
        ..Narrowing::default()
    };
    let row = described(&ctx, &narrowing)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(ConsoleError::NotFound)?;
    let output = console_output(&ctx, &row).await;
    let cpu = monitoring::instance_chart(&ctx.cloud, &id, Metric::CpuUtilization).await?;
    Ok(Reply::page(
        format!("Instance {id}"),
        detail_page(&ctx, &row, &output, cpu),
    ))
}

/// The instance's console output as text, or why there is none to show.
async fn console_output(ctx: &Ctx, row: &Row) -> Result<String, String> {
    if row.state == "terminated" {
        return Err("the instance is terminated".into());
    }
    let request = ec2(R::GetConsoleOutput(GetConsoleOutputType {
        instance_id: row.id.clone(),
    }));
    let answer: GetConsoleOutputResponseType = ops::ask(&ctx.cloud, &ctx.viewer, request)
        .await
        .map_err(|e| e.to_string())?;
    let bytes = BASE64
        .decode(answer.output.trim())
        .map_err(|e| format!("the node's output is not base64: {e}"))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// One instance: its facts, its reboot and terminate buttons, its CPU chart, its console
/// output.
pub fn detail_page(ctx: &Ctx, row: &Row, output: &Result<String, String>, cpu: Markup) -> Markup {
    let path = format!("{PREFIX}{}", row.id);
    let facts = [
        ("Reservation", Some(&row.reservation)),
        ("Account", Some(&row.account)),
        ("State", Some(&row.state)),
        ("Type", Some(&row.vm_type)),
        ("Zone", Some(&row.zone)),
        ("Image", Some(&row.image)),
        ("Kernel", row.kernel.as_ref()),
        ("Ramdisk", row.ramdisk.as_ref()),
        ("Key pair", row.key_name.as_ref()),
        ("Private IP", Some(&row.private_ip)),
        ("Public IP", Some(&row.public_ip)),
        ("Launched", Some(&row.launched)),
    ];
    let live = row.state != "terminated";
    html! {
        dl #facts {
            @for (name, value) in facts {
                @if let Some(value) = value {
                    dt { (name) } dd data-fact=(name) { (value) }
                }
            }
        }
        @if live {
            div.actions {
                (button(ctx, &path, "reboot", &[], "Reboot"))
                (button(ctx, &path, "terminate", &[], "Terminate"))
            }
        }
        h2 { "CPU" }
        section #cpu-chart { (cpu) }
        p { a href={ "/monitoring/" (row.id) } { "All of its metrics" } }
        h2 { "Console output" }
        @match output {
            Ok(text) => pre #console-output { (text) },
            Err(why) => p #console-output.unavailable { "No console output: " (why) },
        }
    }
}

/// What a POST to an instance's page asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Reboot,
    Terminate,
}

impl Act {
    pub fn from_form(req: &Request) -> Result<Self, ConsoleError> {
        match req.field("action")? {
            "reboot" => Ok(Self::Reboot),
            "terminate" => Ok(Self::Terminate),
            other => Err(ConsoleError::BadRequest(format!(
                "no instance action {other:?}"
            ))),
        }
    }

    /// The EC2 request that does it to instance `id`.
    fn request(self, id: &str) -> Ec2QueryRequest {
        let instance_id = id.to_owned();
        ec2(match self {
            Self::Reboot => R::RebootInstances(RebootInstancesType {
                instances_set: RebootInstancesInfoType {
                    item: vec![RebootInstancesItemType { instance_id }],
                },
            }),
            Self::Terminate => R::TerminateInstances(TerminateInstancesType {
                instances_set: TerminateInstancesInfoType {
                    item: vec![TerminateInstancesItemType { instance_id }],
                },
            }),
        })
    }
}

/// `POST /instances/{id}`: reboot or terminate, as the viewer; back to the instance.
pub async fn act(ctx: Ctx, req: Request) -> Result<Reply, ConsoleError> {
    let id = req.last_segment().to_owned();
    let act = Act::from_form(&req)?;
    let request = act.request(&id);
    match act {
        Act::Reboot => {
            let _: RebootInstancesResponseType = ops::ask(&ctx.cloud, &ctx.viewer, request).await?;
        }
        Act::Terminate => {
            let _: TerminateInstancesResponseType =
                ops::ask(&ctx.cloud, &ctx.viewer, request).await?;
        }
    }
    Ok(Reply::back(format!("{PREFIX}{id}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::console::pages::controls::post;
    use wire::ec2::{
        GroupSetType, InstanceStateType, PlacementResponseType, ReservationInfoType,
        ReservationSetType, RunningInstancesItemType, RunningInstancesSetType,
    };

    fn form(pairs: &[(&str, &str)]) -> Form {
        post(pairs).form
    }

    fn answer() -> DescribeInstancesResponseType {
        let instance = |id: &str, state: &str| RunningInstancesItemType {
            instance_id: id.into(),
            image_id: "emi-00000001".into(),
            instance_state: InstanceStateType {
                code: 16,
                name: state.into(),
            },
            instance_type: "m1.small".into(),
            placement: Some(PlacementResponseType {
                availability_zone: "zone1".into(),
            }),
            ..RunningInstancesItemType::default()
        };
        let reservation = |owner: &str, items| ReservationInfoType {
            reservation_id: format!("r-{owner}"),
            owner_id: owner.into(),
            group_set: GroupSetType::default(),
            instances_set: RunningInstancesSetType { item: items },
            requester_id: None,
        };
        DescribeInstancesResponseType {
            reservation_set: ReservationSetType {
                item: vec![
                    reservation("111111111111", vec![instance("i-1", "running")]),
                    reservation(
                        "222222222222",
                        vec![instance("i-2", "pending"), instance("i-3", "running")],
                    ),
                ],
            },
            ..DescribeInstancesResponseType::default()
        }
    }

    #[test]
    fn rows_name_their_account_and_keep_an_unknown_ones_id() {
        let names = HashMap::from([("111111111111".to_owned(), "alpha".to_owned())]);
        let rows = rows(answer(), &names);
        let seen: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r.id.as_str(), r.account.as_str(), r.reservation.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("i-1", "alpha", "r-111111111111"),
                ("i-2", "222222222222", "r-222222222222"),
                ("i-3", "222222222222", "r-222222222222")
            ]
        );
        assert_eq!(rows[0].zone, "zone1");
    }

    #[test]
    fn the_narrowing_becomes_describe_instances_filters_and_blank_fields_narrow_nothing() {
        let narrowing = Narrowing::from_query(&form(&[
            ("account", "alpha"),
            ("state", "running"),
            ("zone", " "),
            ("id", "i-1"),
        ]));
        assert_eq!(narrowing.zone, None);
        let filters: Vec<(String, Vec<String>)> = narrowing
            .filters()
            .into_iter()
            .map(|f| (f.name, f.values))
            .collect();
        assert_eq!(
            filters,
            [
                ("instance-state-name".to_owned(), vec!["running".to_owned()]),
                ("instance-id".to_owned(), vec!["i-1".to_owned()])
            ]
        );
    }

    #[test]
    fn the_list_links_each_instance_and_escapes_what_it_shows() {
        let mut rows = rows(answer(), &HashMap::new());
        rows[0].account = "<script>".into();
        let page = list_page(true, &Narrowing::default(), &rows).into_string();
        assert!(page.contains(r#"href="/instances/i-2""#), "{page}");
        assert!(page.contains("&lt;script&gt;") && !page.contains("<script>"));
        assert!(page.contains(r#"name="account""#));
        let user = list_page(false, &Narrowing::default(), &[]).into_string();
        assert!(!user.contains(r#"name="account""#) && user.contains("No instances."));
    }

    #[test]
    fn only_reboot_and_terminate_are_instance_actions() {
        assert_eq!(
            Act::from_form(&post(&[("action", "terminate")])).unwrap(),
            Act::Terminate
        );
        assert_eq!(
            Act::from_form(&post(&[("action", "reboot")])).unwrap(),
            Act::Reboot
        );
        assert!(matches!(
            Act::from_form(&post(&[("action", "stop")])),
            Err(ConsoleError::BadRequest(_))
        ));
        assert!(Act::from_form(&post(&[])).is_err());
        let request = Act::Terminate.request("i-1");
        assert!(matches!(
            request.request,
            wire::ec2_query::Ec2Request::Ec2(R::TerminateInstances(t))
                if t.instances_set.item[0].instance_id == "i-1"
        ));
    }
}
