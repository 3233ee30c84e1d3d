//! RegisterImage, DescribeImages, DeregisterImage. An image is a bundle's manifest in
//! Walrus (`bucket/key.manifest.xml`) under an `emi-` id; every user may see and run the
//! images registered public, as the original registered them, and each owner deregisters
//! their own (the administrator anyone's).

use wire::ec2::{
    DeregisterImageResponseType, DeregisterImageType, DescribeImagesResponseInfoType,
    DescribeImagesResponseItemType, DescribeImagesResponseType, DescribeImagesType,
    RegisterImageResponseType, RegisterImageType,
};
use wire::query::Filter;

use super::filters::Filters;
use super::ids::random_id;
use super::Call;
use crate::error::Ec2Error;
use crate::store::{Image, ImageKind, StoreError};

/// The suffix of a bundle's manifest, as euca-bundle-image names it.
const MANIFEST_SUFFIX: &str = ".manifest.xml";
/// What a registered image's state always is: registration either succeeds or fails.
const AVAILABLE: &str = "available";

pub(super) async fn register(
    call: &Call<'_>,
    request: RegisterImageType,
) -> Result<RegisterImageResponseType, Ec2Error> {
    let location = manifest_location(&request.image_location)?;
    let image = Image {
        id: random_id(ImageKind::Machine.prefix()),
        owner: call.user.name.clone(),
        location,
        kind: ImageKind::Machine,
        public: true,
    };
    call.cloud
        .store
        .add_image(&image)
        .await
        .map_err(|e| match e {
            // Two draws of the same 32 random bits: the caller may simply retry.
            StoreError::Exists { .. } => {
                Ec2Error::Internal(format!("image id {} drawn twice", image.id))
            }
            other => other.into(),
        })?;
    tracing::info!(image = %image.id, owner = %image.owner, location = %image.location, "image registered");
    Ok(RegisterImageResponseType {
        request_id: call.request_id.to_owned(),
        image_id: image.id,
    })
}

pub(super) async fn deregister(
    call: &Call<'_>,
    request: DeregisterImageType,
) -> Result<DeregisterImageResponseType, Ec2Error> {
    let id = image_id(&request.image_id)?;
    let owner = (!call.user.admin).then_some(call.user.name.as_str());
    if !call.cloud.store.delete_image(owner, id).await? {
        return Err(Ec2Error::ImageNotFound(id.to_owned()));
    }
    Ok(DeregisterImageResponseType {
        request_id: call.request_id.to_owned(),
        r#return: true,
    })
}

pub(super) async fn describe(
    call: &Call<'_>,
    request: DescribeImagesType,
    filters: &[Filter],
) -> Result<DescribeImagesResponseType, Ec2Error> {
    let filters = Filters::new(
        filters,
        &[
            "image-id",
            "state",
            "owner-id",
            "image-type",
            "is-public",
            "manifest-location",
        ],
    )?;
    let asked: Vec<&str> = request
        .images_set
        .item
        .iter()
        .map(|i| i.image_id.as_str())
        .collect();
    for id in &asked {
        image_id(id)?;
    }
    let user = call.user;
    let owners: Vec<&str> = request
        .owners_set
        .iter()
        .flat_map(|s| &s.item)
        .map(|o| {
            if o.owner == "self" {
                &user.name
            } else {
                &o.owner
            }
        })
        .map(String::as_str)
        .collect();
    let executable_by: Vec<&str> = request
        .executable_by_set
        .iter()
        .flat_map(|s| &s.item)
        .map(|e| e.user.as_str())
        .collect();
    let images: Vec<Image> = call
        .cloud
        .store
        .images()
        .await?
        .into_iter()
        .filter(|i| user.admin || i.public || i.owner == user.name)
        .collect();
    if let Some(missing) = asked.iter().find(|id| !images.iter().any(|i| &i.id == *id)) {
        return Err(Ec2Error::ImageNotFound((*missing).to_owned()));
    }
    let runs = |image: &Image, who: &str| match who {
        "all" => image.public,
        "self" => image.public || image.owner == user.name,
        name => image.public || image.owner == name,
    };
    let item = images
        .into_iter()
        .filter(|i| asked.is_empty() || asked.contains(&i.id.as_str()))
        .filter(|i| owners.is_empty() || owners.contains(&i.owner.as_str()))
        .filter(|i| executable_by.is_empty() || executable_by.iter().any(|who| runs(i, who)))
        .filter(|i| {
            filters.pass(|name| match name {
                "image-id" => vec![i.id.as_str()],
                "state" => vec![AVAILABLE],
                "owner-id" => vec![i.owner.as_str()],
                "image-type" => vec![i.kind.name()],
                "is-public" => vec![if i.public { "true" } else { "false" }],
                _ => vec![i.location.as_str()],
            })
        })
        .map(|i| DescribeImagesResponseItemType {
            image_state: AVAILABLE.to_owned(),
            image_type: Some(i.kind.name().to_owned()),
            is_public: i.public,
            image_id: i.id,
            image_location: i.location,
            image_owner_id: i.owner,
            ..DescribeImagesResponseItemType::default()
        })
        .collect();
    Ok(DescribeImagesResponseType {
        request_id: call.request_id.to_owned(),
        images_set: DescribeImagesResponseInfoType { item },
    })
}

/// The manifest's location as recorded: `bucket/key.manifest.xml`, without a leading `/`.
fn manifest_location(given: &str) -> Result<String, Ec2Error> {
    let location = given.trim_start_matches('/');
    let well_formed = location
        .split_once('/')
        .is_some_and(|(bucket, key)| !bucket.is_empty() && key.len() > MANIFEST_SUFFIX.len())
        && location.ends_with(MANIFEST_SUFFIX)
        && !location.chars().any(char::is_control);
    if well_formed {
        Ok(location.to_owned())
    } else {
        Err(Ec2Error::InvalidParameterValue(format!(
            "Invalid image location {given:?}: give the bundle's manifest as bucket/name{MANIFEST_SUFFIX}"
        )))
    }
}

/// `id` when it is an image id (`emi-`, `eki-` or `eri-` and 8 hex digits).
fn image_id(id: &str) -> Result<&str, Ec2Error> {
    let digits = id.get(4..).unwrap_or_default();
    let well_formed = ImageKind::of_id(id).is_some()
        && digits.len() == 8
        && digits.bytes().all(|b| b.is_ascii_hexdigit());
    if well_formed {
        Ok(id)
    } else {
        Err(Ec2Error::ImageMalformed(id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_bucket_and_manifest_key() {
        assert_eq!(
            manifest_location("/b/dir/img.manifest.xml").ok().as_deref(),
            Some("b/dir/img.manifest.xml")
        );
        for bad in [
            "img.manifest.xml",
            "/b/.manifest.xml",
            "b/img.tar.gz",
            "/k.manifest.xml",
            "",
        ] {
            assert!(manifest_location(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn image_ids_are_a_kind_prefix_and_8_hex_digits() {
        for good in ["emi-0123abcd", "eki-DEADBEEF", "eri-00000000"] {
            assert!(image_id(good).is_ok(), "{good}");
        }
        for bad in [
            "ami-01234567",
            "emi-0123abc",
            "emi-0123abcde",
            "emi-0123abcg",
            "emi",
            "emi0-1234567",
        ] {
            assert!(image_id(bad).is_err(), "{bad}");
        }
    }
}
