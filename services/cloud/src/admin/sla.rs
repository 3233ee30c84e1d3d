//! `euca admin sla set|show|clear|report`: accounts' service level agreements
//! (`crate::sla`), and reserved versus used instance-hours over a range of time.

use std::path::Path;

use super::usage::{self, Format, Range};
use super::AdminError;
use crate::sla::edit::{self, Change};
use crate::sla::report::{self, Row};
use crate::sla::{BurstPreference, Floor, Reservation};
use crate::store::Store;

#[derive(Debug, clap::Subcommand)]
pub enum SlaCommand {
    /// Change an account's SLA (making one if it has none); what is not named stays.
    Set {
        #[arg(long)]
        account: String,
        /// Hold N instances of TYPE in ZONE for the account (N 0 removes it); repeatable.
        #[arg(long, value_name = "ZONE:TYPE:N", value_parser = edit::parse_reservation)]
        reserve: Vec<Reservation>,
        /// Higher wins when capacity is short (default 0).
        #[arg(long, allow_negative_numbers = true)]
        priority: Option<i64>,
        /// How a RunInstances naming no zone chooses one: GREEDY (the first with room),
        /// ROUNDROBIN (the next after the account's last), or default (the most room).
        #[arg(long, value_name = "POLICY")]
        placement: Option<String>,
        /// Alert when availableInstances of TYPE (in ZONE, or in each zone) falls below N
        /// (N 0 removes it); repeatable.
        #[arg(long, value_name = "[ZONE:]TYPE:N", value_parser = edit::parse_floor)]
        floor: Vec<Floor>,
        /// Where alerts are POSTed as JSON: an http:// URL, or none.
        #[arg(long, value_name = "URL")]
        webhook: Option<String>,
        /// Whether the account's instances may run on a burst target: never, overflow (what
        /// the local zones cannot place; the default) or first.
        #[arg(long, value_parser = edit::parse_burst)]
        burst: Option<BurstPreference>,
    },
    /// Every SLA, or one account's, one setting a line; breached floors are listed.
    Show {
        #[arg(long)]
        account: Option<String>,
    },
    /// Remove an account's SLA (its reservations end now).
    Clear {
        #[arg(long)]
        account: String,
    },
    /// Reserved versus used instance-hours per account and VM type over a range of time.
    Report(Range),
}

pub(super) async fn run(
    store: &dyn Store,
    data: &Path,
    command: SlaCommand,
) -> Result<(), AdminError> {
    match command {
        SlaCommand::Set {
            account,
            reserve,
            priority,
            placement,
            floor,
            webhook,
            burst,
        } => {
            let change = Change {
                reserve,
                floors: floor,
                priority,
                placement: placement
                    .as_deref()
                    .map(edit::parse_placement)
                    .transpose()?,
                webhook: webhook.as_deref().map(edit::parse_webhook).transpose()?,
                burst,
            };
            let sla = edit::set(store, &account, change).await?;
            print_sla(&sla.account, &edit::describe(&sla));
        }
        SlaCommand::Show { account } => {
            let breaches = store.breaches().await?;
            let slas = store.slas().await?;
            let shown: Vec<_> = slas
                .iter()
                .filter(|s| account.as_deref().is_none_or(|a| a == s.account))
                .collect();
            if let (Some(account), true) = (&account, shown.is_empty()) {
                return Err(AdminError::Sla(format!("account {account:?} has no SLA")));
            }
            for sla in shown {
                let mut lines = edit::describe(sla);
                lines.extend(
                    breaches
                        .iter()
                        .filter(|b| b.account == sla.account)
                        .map(|b| format!("breached {}:{}", b.zone, b.vm_type)),
                );
                print_sla(&sla.account, &lines);
            }
        }
        SlaCommand::Clear { account } => {
            if !edit::clear(store, &account).await? {
                return Err(AdminError::Sla(format!("account {account:?} has no SLA")));
            }
        }
        SlaCommand::Report(range) => {
            if range.user.is_some() {
                return Err(AdminError::Usage(
                    "the SLA report is per account: --user does not apply".into(),
                ));
            }
            let events = usage::read(data, &range.selection(true)?).await?;
            let used = users::usage::usage(&events, range.from, range.to);
            let reserved = store.reservation_history(range.from, range.to).await?;
            let rows: Vec<Row> = report::reserved_vs_used(&reserved, &used, range.from, range.to)
                .into_iter()
                .filter(|r| range.chooses(&r.account, ""))
                .collect();
            print!("{}", report_text(&rows, &range));
        }
    }
    Ok(())
}

fn print_sla(account: &str, lines: &[String]) {
    for line in lines {
        println!("{account}\t{line}");
    }
}

fn report_text(rows: &[Row], range: &Range) -> String {
    match range.format {
        Format::Csv => {
            let mut out =
                String::from("account,vm_type,reserved_instance_hours,used_instance_hours\n");
            for r in rows {
                let fields = [
                    r.account.clone(),
                    r.vm_type.clone(),
                    r.reserved_hours(),
                    r.used_hours(),
                ];
                out.push_str(&usage::csv_row(&fields));
            }
            out
        }
        Format::Json => {
            let number = |text: String| text.parse::<f64>().unwrap_or(f64::NAN);
            let rows: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "account": r.account,
                        "vmType": r.vm_type,
                        "reservedInstanceHours": number(r.reserved_hours()),
                        "usedInstanceHours": number(r.used_hours()),
                    })
                })
                .collect();
            let report = serde_json::json!({
                "from": usage::time_text(range.from),
                "to": usage::time_text(range.to),
                "sla": rows,
            });
            format!("{report:#}\n")
        }
    }
}
