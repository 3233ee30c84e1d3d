//! RegisterImage, DescribeImages, DeregisterImage, the image attributes (Describe-, Modify-,
//! ResetImageAttribute) and DescribeBundleTasks. An image is a
//! bundle's manifest in Walrus (`bucket/key.manifest.xml`); with `--walrus`, RegisterImage
//! reads the manifest there (a GET signed with the user's keys, S3's SigV2): its
//! `image/type` makes the id `emi-`, `eki-` or `eri-`, and its `machine_configuration` gives
//! the kernel, ramdisk and product codes; without, the manifest is taken on trust as a
//! machine image. Images are registered public, as the original registered them; the owner
//! grants and revokes the launch permission (group `all`, or users by name), which
//! DescribeImages and RunInstances honour. Each owner deregisters their own (the
//! administrator anyone's).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{AUTHORIZATION, DATE};
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use wire::ec2::{
    BlockDeviceMappingItemType, BlockDeviceMappingType, BundleInstanceTasksSetType,
    DeregisterImageResponseType, DeregisterImageType, DescribeBundleTasksResponseType,
    DescribeBundleTasksType, DescribeImageAttributeResponseType,
    DescribeImageAttributeResponseTypeChoice as Described, DescribeImageAttributeType,
    DescribeImageAttributesGroup as Asked, DescribeImagesResponseInfoType,
    DescribeImagesResponseItemType, DescribeImagesResponseType, DescribeImagesType,
    LaunchPermissionItemType, LaunchPermissionListType, LaunchPermissionOperationType,
    ModifyImageAttributeResponseType, ModifyImageAttributeType,
    ModifyImageAttributeTypeChoice as Modified, NullableAttributeValueType, ProductCodeItemType,
    ProductCodeListType, ProductCodesSetItemType, ProductCodesSetType, RegisterImageResponseType,
    RegisterImageType, ResetImageAttributeResponseType, ResetImageAttributeType,
    ResetImageAttributesGroup,
};
use wire::query::Filter;

use super::filters::Filters;
use super::ids::random_id;
use super::owners::Owners;
use super::Call;
use crate::error::Ec2Error;
use crate::store::{Image, ImageKind, LaunchPermission, StoreError, User};

/// The suffix of a bundle's manifest, as euca-bundle-image names it.
const MANIFEST_SUFFIX: &str = ".manifest.xml";
/// What a registered image's state always is: registration either succeeds or fails.
const AVAILABLE: &str = "available";
/// How long Walrus has to give a manifest.
const WALRUS_DEADLINE: Duration = Duration::from_secs(10);
/// The largest manifest read (a manifest lists its parts: 10 GB in 10 MB parts is ~100 KB).
const MANIFEST_LIMIT: usize = 1 << 20;
/// The launch permission group of every user, the only group EC2 has.
const ALL: &str = "all";
/// The block devices every instance has, as the original described them (virtual name,
/// device).
const BLOCK_DEVICES: [(&str, &str); 4] = [
    ("emi", "sda1"),
    ("ephemeral0", "sda2"),
    ("swap", "sda3"),
    ("root", "/dev/sda1"),
];
/// The longest product code taken.
const PRODUCT_CODE_LIMIT: usize = 64;

/// What a bundle's manifest says of its image.
#[derive(Debug, Default, PartialEq, Eq)]
struct Manifest {
    kind: Option<ImageKind>,
    kernel: Option<String>,
    ramdisk: Option<String>,
    product_codes: Vec<String>,
}

/// Whether `user` may run `image`: the owner, the administrator, everyone when it is public,
/// and the users it is granted to.
pub fn may_run(image: &Image, user: &User) -> bool {
    user.admin || runs(image, &user.account)
}

/// Whether the user named `name` may run `image` by its launch permission or ownership.
fn runs(image: &Image, name: &str) -> bool {
    image.public || image.owner == name || image.launch_users.iter().any(|u| u == name)
}

pub(super) async fn register(
    call: &Call<'_>,
    request: RegisterImageType,
) -> Result<RegisterImageResponseType, Ec2Error> {
    let location = manifest_location(&request.image_location)?;
    let manifest = match &call.cloud.walrus {
        Some(walrus) => read_manifest(&fetch_manifest(call, walrus, &location).await?)?,
        None => Manifest::default(),
    };
    let kind = manifest.kind.unwrap_or(ImageKind::Machine);
    let image = Image {
        id: random_id(kind.prefix()),
        owner: call.user.account.clone(),
        location,
        kind,
        public: true,
        kernel: manifest.kernel,
        ramdisk: manifest.ramdisk,
        product_codes: manifest.product_codes,
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
    let owner = call.toucher();
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
    let accounts = Owners::load(call).await?;
    let owners: Vec<&str> = request
        .owners_set
        .iter()
        .flat_map(|s| &s.item)
        .map(|o| {
            if o.owner == "self" {
                user.account.as_str()
            } else {
                accounts.account(&o.owner)
            }
        })
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
        .filter(|i| may_run(i, user))
        .collect();
    if let Some(missing) = asked.iter().find(|id| !images.iter().any(|i| &i.id == *id)) {
        return Err(Ec2Error::ImageNotFound((*missing).to_owned()));
    }
    let executable = |image: &Image, who: &str| match who {
        ALL => image.public,
        "self" => runs(image, &user.account),
        named => runs(image, accounts.account(named)),
    };
    let item = images
        .into_iter()
        .filter(|i| asked.is_empty() || asked.contains(&i.id.as_str()))
        .filter(|i| owners.is_empty() || owners.contains(&i.owner.as_str()))
        .filter(|i| executable_by.is_empty() || executable_by.iter().any(|who| executable(i, who)))
        .filter(|i| {
            filters.pass(|name| match name {
                "image-id" => vec![i.id.as_str()],
                "state" => vec![AVAILABLE],
                "owner-id" => vec![i.owner.as_str(), accounts.id(&i.owner)],
                "image-type" => vec![i.kind.name()],
                "is-public" => vec![if i.public { "true" } else { "false" }],
                _ => vec![i.location.as_str()],
            })
        })
        .map(|i| DescribeImagesResponseItemType {
            image_state: AVAILABLE.to_owned(),
            image_type: Some(i.kind.name().to_owned()),
            is_public: i.public,
            product_codes: (!i.product_codes.is_empty()).then(|| ProductCodesSetType {
                item: i
                    .product_codes
                    .into_iter()
                    .map(|product_code| ProductCodesSetItemType { product_code })
                    .collect(),
            }),
            kernel_id: i.kernel,
            ramdisk_id: i.ramdisk,
            image_id: i.id,
            image_location: i.location,
            image_owner_id: accounts.id(&i.owner).to_owned(),
            ..DescribeImagesResponseItemType::default()
        })
        .collect();
    Ok(DescribeImagesResponseType {
        request_id: call.request_id.to_owned(),
        images_set: DescribeImagesResponseInfoType { item },
    })
}

pub(super) async fn describe_attribute(
    call: &Call<'_>,
    request: DescribeImageAttributeType,
) -> Result<DescribeImageAttributeResponseType, Ec2Error> {
    let image = visible(call, &request.image_id).await?;
    let choice = match request.describe_image_attributes_group {
        Asked::LaunchPermission(_) => {
            // Who else may run an image is its owner's business.
            owned(call, &image)?;
            let group = image
                .public
                .then(|| LaunchPermissionItemType::Group(ALL.to_owned()));
            let users = image
                .launch_users
                .into_iter()
                .map(LaunchPermissionItemType::UserId);
            Described::LaunchPermission(LaunchPermissionListType {
                item: group.into_iter().chain(users).collect(),
            })
        }
        Asked::ProductCodes(_) => Described::ProductCodes(ProductCodeListType {
            item: image
                .product_codes
                .into_iter()
                .map(ProductCodeItemType::ProductCode)
                .collect(),
        }),
        Asked::Kernel(_) => Described::Kernel(NullableAttributeValueType {
            value: image.kernel,
        }),
        Asked::Ramdisk(_) => Described::Ramdisk(NullableAttributeValueType {
            value: image.ramdisk,
        }),
        Asked::BlockDeviceMapping(_) => Described::BlockDeviceMapping(BlockDeviceMappingType {
            item: BLOCK_DEVICES
                .iter()
                .map(|(virtual_name, device_name)| BlockDeviceMappingItemType {
                    virtual_name: (*virtual_name).to_owned(),
                    device_name: (*device_name).to_owned(),
                })
                .collect(),
        }),
    };
    Ok(DescribeImageAttributeResponseType {
        request_id: call.request_id.to_owned(),
        image_id: image.id,
        choice,
    })
}

pub(super) async fn modify_attribute(
    call: &Call<'_>,
    request: ModifyImageAttributeType,
) -> Result<ModifyImageAttributeResponseType, Ec2Error> {
    let image = visible(call, &request.image_id).await?;
    owned(call, &image)?;
    let store = &call.cloud.store;
    let found = match request.choice {
        Modified::LaunchPermission(operation) => {
            let (add, remove) = match operation {
                LaunchPermissionOperationType::Add(list) => {
                    (permission(call, list).await?, LaunchPermission::default())
                }
                LaunchPermissionOperationType::Remove(list) => {
                    (LaunchPermission::default(), permission(call, list).await?)
                }
            };
            store
                .change_launch_permission(&image.id, &add, &remove)
                .await?
        }
        Modified::ProductCodes(list) => {
            let codes = list
                .item
                .iter()
                .map(|ProductCodeItemType::ProductCode(code)| product_code(code).map(str::to_owned))
                .collect::<Result<Vec<_>, _>>()?;
            if codes.is_empty() {
                return Err(Ec2Error::MissingParameter("ProductCode.1".into()));
            }
            store.add_product_codes(&image.id, &codes).await?
        }
    };
    if !found {
        return Err(Ec2Error::ImageNotFound(image.id));
    }
    tracing::info!(image = %image.id, by = %call.user.account, "image attribute modified");
    Ok(ModifyImageAttributeResponseType {
        request_id: call.request_id.to_owned(),
        r#return: true,
    })
}

pub(super) async fn reset_attribute(
    call: &Call<'_>,
    request: ResetImageAttributeType,
) -> Result<ResetImageAttributeResponseType, Ec2Error> {
    let image = visible(call, &request.image_id).await?;
    owned(call, &image)?;
    // launchPermission is the one attribute 2009-04-04 resets.
    let ResetImageAttributesGroup::LaunchPermission(_) = request.reset_image_attributes_group;
    if !call.cloud.store.reset_launch_permission(&image.id).await? {
        return Err(Ec2Error::ImageNotFound(image.id));
    }
    Ok(ResetImageAttributeResponseType {
        request_id: call.request_id.to_owned(),
        r#return: true,
    })
}

/// The cloud bundles no running instances (BundleInstance is not among its operations), so
/// it has no bundle tasks, as the original answered.
pub(super) fn bundle_tasks(
    call: &Call<'_>,
    _request: &DescribeBundleTasksType,
) -> DescribeBundleTasksResponseType {
    DescribeBundleTasksResponseType {
        request_id: call.request_id.to_owned(),
        bundle_instance_tasks_set: BundleInstanceTasksSetType::default(),
    }
}

/// The image `given` names when the caller may see it (run it); else it does not exist for
/// them.
async fn visible(call: &Call<'_>, given: &str) -> Result<Image, Ec2Error> {
    let id = image_id(given)?;
    call.cloud
        .store
        .images()
        .await?
        .into_iter()
        .find(|i| i.id == id && may_run(i, call.user))
        .ok_or_else(|| Ec2Error::ImageNotFound(id.to_owned()))
}

/// Refuses an image the caller does not own (the administrator owns every one).
fn owned(call: &Call<'_>, image: &Image) -> Result<(), Ec2Error> {
    if call.user.admin || image.owner == call.user.account {
        Ok(())
    } else {
        Err(Ec2Error::ImageNotAuthorized(image.id.clone()))
    }
}

/// The launch permission a ModifyImageAttribute list names: group `all` and users of this
/// cloud.
async fn permission(
    call: &Call<'_>,
    list: LaunchPermissionListType,
) -> Result<LaunchPermission, Ec2Error> {
    if list.item.is_empty() {
        return Err(Ec2Error::MissingParameter("UserId.1 or UserGroup.1".into()));
    }
    let mut permission = LaunchPermission::default();
    for item in list.item {
        match item {
            LaunchPermissionItemType::Group(group) if group == ALL => permission.public = true,
            LaunchPermissionItemType::Group(group) => {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "The launch permission group '{group}' does not exist: the one group is '{ALL}'"
                )))
            }
            LaunchPermissionItemType::UserId(user) => {
                let account = Owners::load(call).await?.account(&user).to_owned();
                if call
                    .cloud
                    .store
                    .directory()
                    .account(&account)
                    .await?
                    .is_none()
                {
                    return Err(Ec2Error::InvalidParameterValue(format!(
                        "The user '{user}' does not exist"
                    )));
                }
                permission.users.push(account);
            }
        }
    }
    Ok(permission)
}

/// `code` when it is a product code: letters and digits, at most [`PRODUCT_CODE_LIMIT`].
fn product_code(code: &str) -> Result<&str, Ec2Error> {
    if !code.is_empty()
        && code.len() <= PRODUCT_CODE_LIMIT
        && code.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        Ok(code)
    } else {
        Err(Ec2Error::InvalidParameterValue(format!(
            "Invalid product code '{code}': letters and digits, at most {PRODUCT_CODE_LIMIT}"
        )))
    }
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

/// What a bundle's manifest declares: `image/type` (machine, kernel, ramdisk) and, from
/// `machine_configuration`, `kernel_id`, `ramdisk_id` and the comma-separated
/// `product_codes/product_code`.
fn read_manifest(manifest: &[u8]) -> Result<Manifest, Ec2Error> {
    let invalid =
        |why: &str| Ec2Error::InvalidManifest(format!("is not a bundle's manifest: {why}"));
    let root = xmlbind::parse(manifest, &xmlbind::Limits::default())
        .map_err(|e| invalid(&e.to_string()))?;
    if !root.name.is(None, "manifest") {
        return Err(invalid("its root is not <manifest>"));
    }
    let text = |element: &xmlbind::Element| {
        element
            .text()
            .map(|t| t.trim().to_owned())
            .map_err(|e| invalid(&e.to_string()))
    };
    let kind = root
        .child(None, "image")
        .and_then(|image| image.child(None, "type"))
        .ok_or_else(|| invalid("no image/type"))?;
    let kind = match text(kind)?.as_str() {
        "machine" => ImageKind::Machine,
        "kernel" => ImageKind::Kernel,
        "ramdisk" => ImageKind::Ramdisk,
        other => return Err(invalid(&format!("unknown image type {other:?}"))),
    };
    let mut read = Manifest {
        kind: Some(kind),
        ..Manifest::default()
    };
    let Some(config) = root.child(None, "machine_configuration") else {
        return Ok(read);
    };
    let id = |name: &str, of: ImageKind| -> Result<Option<String>, Ec2Error> {
        let Some(element) = config.child(None, name) else {
            return Ok(None);
        };
        let id = text(element)?;
        match image_id(&id) {
            Ok(_) if ImageKind::of_id(&id) == Some(of) => Ok(Some(id)),
            _ => Err(invalid(&format!(
                "{name} {id:?} is not an {} id",
                of.prefix()
            ))),
        }
    };
    // euca2ools 1.x writes every bundle's type as machine: `--kernel true` (`--ramdisk
    // true`) leaves `kernel_id` (`ramdisk_id`) `true`, which makes the image a kernel
    // (ramdisk).
    let marks = |name: &str| {
        config
            .child(None, name)
            .and_then(|e| e.text().ok())
            .is_some_and(|t| t.trim() == "true")
    };
    if marks("kernel_id") {
        read.kind = Some(ImageKind::Kernel);
        return Ok(read);
    }
    if marks("ramdisk_id") {
        read.kind = Some(ImageKind::Ramdisk);
        return Ok(read);
    }
    read.kernel = id("kernel_id", ImageKind::Kernel)?;
    read.ramdisk = id("ramdisk_id", ImageKind::Ramdisk)?;
    for codes in config
        .child(None, "product_codes")
        .into_iter()
        .flat_map(|c| c.elements().filter(|e| e.name.is(None, "product_code")))
    {
        for code in text(codes)?
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            let code =
                product_code(code).map_err(|_| invalid(&format!("product code {code:?}")))?;
            if !read.product_codes.iter().any(|c| c == code) {
                read.product_codes.push(code.to_owned());
            }
        }
    }
    read.product_codes.sort();
    Ok(read)
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
        let kind = |manifest: &[u8]| read_manifest(manifest).ok().and_then(|m| m.kind);
        let sample = include_bytes!("../../../../tests/fixtures/cloud/kernel.manifest.xml");
        assert_eq!(kind(sample), Some(ImageKind::Kernel));
        let machine = b"<manifest><image><name>x</name><type>machine</type></image></manifest>";
        assert_eq!(kind(machine), Some(ImageKind::Machine));
        // Regression: euca2ools 1.x's `--kernel true` / `--ramdisk true` bundles register as eki/eri.
        let marked = |name: &str| {
            format!(
                "<manifest><machine_configuration><{name}>true</{name}></machine_configuration>\
                 <image><type>machine</type></image></manifest>"
            )
        };
        assert_eq!(
            kind(marked("kernel_id").as_bytes()),
            Some(ImageKind::Kernel)
        );
        assert_eq!(
            kind(marked("ramdisk_id").as_bytes()),
            Some(ImageKind::Ramdisk)
        );
        for bad in [
            &b"<manifest><image><type>disk</type></image></manifest>"[..],
            b"<manifest><image/></manifest>",
            b"<other><image><type>kernel</type></image></other>",
            b"\x00\x01 an image, not XML",
        ] {
            assert!(read_manifest(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_manifests_machine_configuration_gives_kernel_ramdisk_and_product_codes() {
        let manifest = include_bytes!("../../../../tests/fixtures/cloud/coded.manifest.xml");
        assert_eq!(
            read_manifest(manifest).ok(),
            Some(Manifest {
                kind: Some(ImageKind::Machine),
                kernel: Some("eki-0000000a".into()),
                ramdisk: Some("eri-0000000b".into()),
                product_codes: vec!["0A1B2C3D".into(), "774F4FF8".into()],
            })
        );
        let wrong_kernel = b"<manifest><machine_configuration><kernel_id>eri-0000000b</kernel_id>\
            </machine_configuration><image><type>machine</type></image></manifest>";
        assert!(read_manifest(wrong_kernel).is_err());
        let bad_code = b"<manifest><machine_configuration><product_codes>\
            <product_code>a b</product_code></product_codes></machine_configuration>\
            <image><type>machine</type></image></manifest>";
        assert!(read_manifest(bad_code).is_err());
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
