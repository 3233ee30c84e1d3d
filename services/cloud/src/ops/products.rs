//! ConfirmProductInstance: whether an instance runs an image carrying a product code (the
//! codes its manifest gave, or its owner attached with ModifyImageAttribute).

use wire::ec2::{ConfirmProductInstanceResponseType, ConfirmProductInstanceType};

use super::instances::chosen;
use super::Call;
use crate::error::Ec2Error;

/// Whether the instance runs an image carrying the product code: for the instance's owner,
/// the image's owner (who sells the product) and the administrator; `false` for others.
pub(super) async fn confirm(
    call: &Call<'_>,
    request: ConfirmProductInstanceType,
) -> Result<ConfirmProductInstanceResponseType, Ec2Error> {
    // The image's owner asks of any user's instance.
    let instance = chosen(call, None, &[request.instance_id.as_str()])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| Ec2Error::InstanceNotFound(request.instance_id.clone()))?;
    let images = call.cloud.store.images().await?;
    let image = images.iter().find(|i| i.id == instance.image);
    let user = call.user;
    let confirmed = image.is_some_and(|image| {
        image.product_codes.contains(&request.product_code)
            && (user.admin || user.account == image.owner || user.account == instance.owner)
    });
    Ok(ConfirmProductInstanceResponseType {
        request_id: call.request_id.to_owned(),
        r#return: confirmed,
        owner_id: confirmed.then_some(instance.owner),
    })
}
