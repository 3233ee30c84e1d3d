//! RegisterImage, DescribeImages, DeregisterImage. An image is a bundle's manifest in
//! Walrus (`bucket/key.manifest.xml`); with `--walrus`, RegisterImage reads the manifest there
//! (a GET signed with the user's keys, S3's SigV2) and its `image/type` makes the id `emi-`,
//! `eki-` or `eri-`; without, the manifest is taken on trust as a machine image. Every user
//! may see and run the images registered public, as the original registered them, and each
//! owner deregisters their own (the administrator anyone's).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{AUTHORIZATION, DATE};
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

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
/// How long Walrus has to give a manifest.
const WALRUS_DEADLINE: Duration = Duration::from_secs(10);
/// The largest manifest read (a manifest lists its parts: 10 GB in 10 MB parts is ~100 KB).
const MANIFEST_LIMIT: usize = 1 << 20;

pub(super) async fn register(
    call: &Call<'_>,
    request: RegisterImageType,
) -> Result<RegisterImageResponseType, Ec2Error> {
    let location = manifest_location(&request.image_location)?;
    let kind = match &call.cloud.walrus {
        Some(walrus) => manifest_kind(&fetch_manifest(call, walrus, &location).await?)?,
        None => ImageKind::Machine,
    };
    let image = Image {
        id: random_id(kind.prefix()),
        owner: call.user.name.clone(),
        location,
        kind,
        public: true,
        kernel: None,
        ramdisk: None,
        product_codes: Vec::new(),
        launch_users: Vec::new(),
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

/// The manifest at `location` in Walrus, asked for as the registering user.
async fn fetch_manifest(
    call: &Call<'_>,
    walrus: &str,
    location: &str,
) -> Result<Vec<u8>, Ec2Error> {
    let url = format!("{}/{location}", walrus.trim_end_matches('/'));
    let unreachable = |reason: String| {
        Ec2Error::Internal(format!(
            "Walrus at {walrus} gave no manifest {location}: {reason}"
        ))
    };
    let uri: hyper::Uri = url.parse().map_err(|e| {
        Ec2Error::InvalidParameterValue(format!("Invalid image location {location:?}: {e}"))
    })?;
    let date = kit::time::http_date(kit::time::now());
    // S3's SigV2 of a GET: no Content-MD5, no Content-Type, the date, the resource.
    let signature = walrus::auth::v2::sign(
        &call.user.secret_key,
        &format!("GET\n\n\n{date}\n{}", uri.path()),
    );
    let request = Request::get(uri)
        .header(DATE, &date)
        .header(
            AUTHORIZATION,
            format!("AWS {}:{signature}", call.user.access_key),
        )
        .body(Empty::<Bytes>::new())
        .map_err(|e| unreachable(e.to_string()))?;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let fetch = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MANIFEST_LIMIT)
            .collect()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        Ok::<_, Ec2Error>((status, body.to_bytes()))
    };
    let (status, body) = tokio::time::timeout(WALRUS_DEADLINE, fetch)
        .await
        .map_err(|_| unreachable(format!("no answer in {WALRUS_DEADLINE:?}")))??;
    match status {
        StatusCode::OK => Ok(body.to_vec()),
        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN => Err(Ec2Error::InvalidManifest(format!(
            "{location} cannot be read from Walrus ({status})"
        ))),
        other => Err(unreachable(other.to_string())),
    }
}

/// The kind a bundle's manifest declares (`manifest/image/type`: machine, kernel, ramdisk).
fn manifest_kind(manifest: &[u8]) -> Result<ImageKind, Ec2Error> {
    let invalid =
        |why: &str| Ec2Error::InvalidManifest(format!("is not a bundle's manifest: {why}"));
    let root = xmlbind::parse(manifest, &xmlbind::Limits::default())
        .map_err(|e| invalid(&e.to_string()))?;
    if !root.name.is(None, "manifest") {
        return Err(invalid("its root is not <manifest>"));
    }
    let kind = root
        .child(None, "image")
        .and_then(|image| image.child(None, "type"))
        .ok_or_else(|| invalid("no image/type"))?
        .text()
        .map_err(|e| invalid(&e.to_string()))?;
    match kind.trim() {
        "machine" => Ok(ImageKind::Machine),
        "kernel" => Ok(ImageKind::Kernel),
        "ramdisk" => Ok(ImageKind::Ramdisk),
        other => Err(invalid(&format!("unknown image type {other:?}"))),
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
    fn the_manifests_image_type_is_the_kind() {
        let sample = include_bytes!("../../../../tests/fixtures/cloud/kernel.manifest.xml");
        assert_eq!(manifest_kind(sample).ok(), Some(ImageKind::Kernel));
        let machine = b"<manifest><image><name>x</name><type>machine</type></image></manifest>";
        assert_eq!(manifest_kind(machine).ok(), Some(ImageKind::Machine));
        for bad in [
            &b"<manifest><image><type>disk</type></image></manifest>"[..],
            b"<manifest><image/></manifest>",
            b"<other><image><type>kernel</type></image></other>",
            b"\x00\x01 an image, not XML",
        ] {
            assert!(manifest_kind(bad).is_err(), "{bad:?}");
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
