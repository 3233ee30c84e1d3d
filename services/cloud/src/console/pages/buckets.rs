//! `/buckets`: Walrus's buckets with their objects' count and bytes (every account's for the
//! cloud admin, the viewer's account's for a user), read from Walrus's metadata where
//! `euca up` keeps it beside the CLC's DATA, as `euca admin quota show` reads it.

use std::collections::HashMap;

use maud::{html, Markup};
use walrus::BucketContents;

use super::date;
use crate::console::{ConsoleError, Ctx, Reply, Request};
use crate::store::StoreError;

/// `GET /buckets`.
pub async fn list(ctx: Ctx, _req: Request) -> Result<Reply, ConsoleError> {
    let directory = ctx.cloud.store.directory();
    let names: HashMap<String, String> = directory
        .accounts()
        .await?
        .into_iter()
        .map(|a| (a.canonical_id, a.name))
        .collect();
    // A user's account's buckets only; the cloud admin's, every one.
    let owner = match ctx.is_admin() {
        true => None,
        false => Some(
            names
                .iter()
                .find(|(_, name)| **name == ctx.viewer.account)
                .map(|(id, _)| id.clone())
                .ok_or(ConsoleError::NotFound)?,
        ),
    };
    let data = crate::config::walrus_data(&ctx.cloud.data);
    let buckets = kit::blocking(move || walrus::buckets(&data, owner.as_deref()))
        .await
        .map_err(|e| StoreError::Value(format!("Walrus's metadata: {e}")))?;
    Ok(Reply::page("Buckets", render(buckets.as_deref(), &names)))
}

/// The buckets (`None`: no Walrus keeps its data beside the CLC's); `names` maps canonical
/// ids to account names.
pub fn render(buckets: Option<&[BucketContents]>, names: &HashMap<String, String>) -> Markup {
    html! {
        @match buckets {
            None => p.empty { "No Walrus keeps its data beside this cloud controller's (DATA/walrus)." },
            Some([]) => p.empty { "No buckets." },
            Some(buckets) => table #buckets {
                thead { tr { th { "Bucket" } th { "Account" } th { "Objects" } th { "Bytes" } th { "Created" } } }
                tbody {
                    @for b in buckets {
                        tr data-bucket=(b.name) {
                            td { (b.name) }
                            td { (names.get(&b.owner).unwrap_or(&b.owner)) }
                            td.objects { (b.objects) } td.bytes { (b.bytes) }
                            td { (date(b.created / 1000)) }
                        }
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_show_their_account_objects_and_bytes() {
        let bucket = BucketContents {
            name: "photos".into(),
            owner: "c0ffee".into(),
            created: 1_000_000,
            objects: 3,
            bytes: 4096,
        };
        let names = HashMap::from([("c0ffee".to_owned(), "alpha".to_owned())]);
        let page = render(Some(&[bucket]), &names).into_string();
        assert!(page.contains("<td>alpha</td>"), "{page}");
        assert!(page.contains(r#"<td class="objects">3</td><td class="bytes">4096</td>"#));
        assert!(render(Some(&[]), &names)
            .into_string()
            .contains("No buckets."));
        assert!(render(None, &names).into_string().contains("DATA/walrus"));
    }
}
