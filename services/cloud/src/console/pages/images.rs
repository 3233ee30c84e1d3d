//! `/images`: the images the viewer may run (every one for the cloud admin), with their
//! launch permission; enable and disable make an image public or private again
//! (ModifyImageAttribute's launch permission group `all`, as Eucalyptus 1.6's console and
//! `euca-modify-image-attribute -l -a all` did), and deregister forgets it
//! (DeregisterImage), each through `ops::ask` as the viewer.

use maud::{html, Markup};
use wire::ec2::{
    AmazonEc2PortTypeRequest as R, DeregisterImageResponseType, DeregisterImageType,
    LaunchPermissionItemType, LaunchPermissionListType, LaunchPermissionOperationType,
    ModifyImageAttributeResponseType, ModifyImageAttributeType, ModifyImageAttributeTypeChoice,
};
use wire::ec2_query::Ec2QueryRequest;

use super::button;
use super::controls::ec2;
use crate::console::{ConsoleError, Ctx, Reply, Request};
use crate::ops;
use crate::store::Image;

const PATH: &str = "/images";

/// `GET /images`.
pub async fn list(ctx: Ctx, _req: Request) -> Result<Reply, ConsoleError> {
    let mut images = ctx.cloud.store.images().await?;
    images.retain(|i| ops::may_run(i, &ctx.viewer));
    Ok(Reply::page("Images", render(&ctx, &images)))
}

pub fn render(ctx: &Ctx, images: &[Image]) -> Markup {
    html! {
        @if images.is_empty() { p.empty { "No images." } } @else {
            table #images {
                thead { tr { th { "Image" } th { "Kind" } th { "Owner" } th { "Manifest" }
                    th { "Launch permission" } th { "Kernel" } th { "Ramdisk" } th {} } }
                tbody {
                    @for i in images {
                        tr data-image=(i.id) {
                            td { (i.id) } td { (i.kind.name()) } td { (i.owner) } td { (i.location) }
                            td.permission {
                                @if i.public { "public (enabled)" } @else { "private (disabled)" }
                                @for u in &i.launch_users { ", " (u) }
                            }
                            td { (i.kernel.as_deref().unwrap_or("")) }
                            td { (i.ramdisk.as_deref().unwrap_or("")) }
                            // The image's owner and the cloud admin may change it
                            // (ModifyImageAttribute and DeregisterImage refuse others).
                            td.actions { @if ctx.is_admin() || i.owner == ctx.viewer.account {
                                @if i.public {
                                    (button(ctx, PATH, "disable", &[("id", &i.id)], "Disable"))
                                } @else {
                                    (button(ctx, PATH, "enable", &[("id", &i.id)], "Enable"))
                                }
                                (button(ctx, PATH, "deregister", &[("id", &i.id)], "Deregister"))
                            } }
                        }
                    }
                }
            }
        }
    }
}

/// What a POST to `/images` asks of image `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// Every user may run it (launch permission group `all`).
    Enable(String),
    /// Only its owner and the users named may.
    Disable(String),
    Deregister(String),
}

impl Act {
    pub fn from_form(req: &Request) -> Result<Self, ConsoleError> {
        let id = req.field("id")?.to_owned();
        match req.field("action")? {
            "enable" => Ok(Self::Enable(id)),
            "disable" => Ok(Self::Disable(id)),
            "deregister" => Ok(Self::Deregister(id)),
            other => Err(ConsoleError::BadRequest(format!(
                "no image action {other:?}"
            ))),
        }
    }

    /// The EC2 request that does it.
    pub fn request(self) -> Ec2QueryRequest {
        let everyone = || LaunchPermissionListType {
            item: vec![LaunchPermissionItemType::Group("all".into())],
        };
        let permission = |image_id, operation| {
            R::ModifyImageAttribute(ModifyImageAttributeType {
                image_id,
                choice: ModifyImageAttributeTypeChoice::LaunchPermission(operation),
            })
        };
        ec2(match self {
            Self::Enable(id) => permission(id, LaunchPermissionOperationType::Add(everyone())),
            Self::Disable(id) => permission(id, LaunchPermissionOperationType::Remove(everyone())),
            Self::Deregister(image_id) => R::DeregisterImage(DeregisterImageType { image_id }),
        })
    }
}

/// `POST /images`.
pub async fn act(ctx: Ctx, req: Request) -> Result<Reply, ConsoleError> {
    let act = Act::from_form(&req)?;
    let deregister = matches!(act, Act::Deregister(_));
    let request = act.request();
    if deregister {
        let _: DeregisterImageResponseType = ops::ask(&ctx.cloud, &ctx.viewer, request).await?;
    } else {
        let _: ModifyImageAttributeResponseType =
            ops::ask(&ctx.cloud, &ctx.viewer, request).await?;
    }
    Ok(Reply::back(PATH))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::console::pages::controls::post;
    use wire::ec2_query::Ec2Request;

    fn act(pairs: &[(&str, &str)]) -> Result<Act, ConsoleError> {
        Act::from_form(&post(pairs))
    }

    #[test]
    fn enable_and_disable_grant_and_revoke_group_all() {
        let modified = |a: Act| match a.request().request {
            Ec2Request::Ec2(R::ModifyImageAttribute(m)) => match m.choice {
                ModifyImageAttributeTypeChoice::LaunchPermission(op) => (m.image_id, op),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        };
        let all = vec![LaunchPermissionItemType::Group("all".into())];
        let enable = act(&[("action", "enable"), ("id", "emi-1")]).unwrap();
        assert!(matches!(modified(enable),
            (id, LaunchPermissionOperationType::Add(l)) if id == "emi-1" && l.item == all));
        let disable = act(&[("action", "disable"), ("id", "emi-1")]).unwrap();
        assert!(matches!(modified(disable),
            (_, LaunchPermissionOperationType::Remove(l)) if l.item == all));
        let deregister = act(&[("action", "deregister"), ("id", "emi-2")]).unwrap();
        assert!(matches!(deregister.request().request,
            Ec2Request::Ec2(R::DeregisterImage(d)) if d.image_id == "emi-2"));
        assert!(act(&[("action", "enable")]).is_err());
        assert!(act(&[("action", "delete"), ("id", "emi-1")]).is_err());
    }
}
