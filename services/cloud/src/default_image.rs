//! `euca admin image add-default`: a small bootable image registered on a running cloud, so
//! that RunInstances works on a fresh one. It goes the way a user's image goes: the kernel,
//! the ramdisk and a small root disk are bundled (`euca bundle-image`), uploaded to Walrus
//! (`euca upload-bundle`) and registered through the cloud's Query API, all with the
//! administrator's eucarc, as eki-, eri- and emi- (public, as every image is at first).
//!
//! The kernel and ramdisk are those `scripts/guest-image.sh` builds; without them, stand-ins
//! the test hypervisor runs (it boots nothing). A second run finds the images it registered
//! by their manifests' locations and registers only what is missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use walrus::bundle::create::{create, BundleSpec, CreateError, DEFAULT_PART_SIZE};
use walrus::bundle::upload::{upload, UploadError, UploadSpec};
use xmlbind::Element;

/// The bucket the default image's bundles go to.
pub const BUCKET: &str = "euca-default-image";
/// The root disk of the default machine image: small, and empty (the ramdisk is the system).
const ROOT_DISK_BYTES: usize = 1 << 20;
/// Most of a Query answer read.
const MAX_ANSWER: usize = 4 << 20;
/// The 2009 API the cloud's Query interface speaks.
const API_VERSION: &str = "2009-04-04";

/// The three parts of the default image, in registration order: the machine image's
/// manifest names the other two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    Kernel,
    Ramdisk,
    Machine,
}

impl Part {
    const ALL: [Self; 3] = [Self::Kernel, Self::Ramdisk, Self::Machine];

    /// Its bundle's name: the manifest is `NAME.manifest.xml` in [`BUCKET`].
    fn name(self) -> &'static str {
        match self {
            Self::Kernel => "euca-default-kernel",
            Self::Ramdisk => "euca-default-ramdisk",
            Self::Machine => "euca-default-machine",
        }
    }

    fn location(self) -> String {
        format!("{BUCKET}/{}.manifest.xml", self.name())
    }
}

/// The ids of the default image's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultImage {
    pub kernel: String,
    pub ramdisk: String,
    pub machine: String,
    /// Whether anything was registered this time (`false`: all three were there).
    pub registered: bool,
}

/// Where the kernel and ramdisk come from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub kernel: Option<PathBuf>,
    pub ramdisk: Option<PathBuf>,
}

/// Why the default image could not be added.
#[derive(Debug, thiserror::Error)]
pub enum DefaultImageError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} lacks {name}: is it a eucarc `euca cloud` wrote?")]
    Eucarc { path: PathBuf, name: &'static str },
    #[error("give both --kernel and --ramdisk, or neither (for the test driver's stand-ins)")]
    HalfSources,
    #[error("the user's keys: {0}")]
    Keys(String),
    #[error("bundling {file}: {source}")]
    Bundle { file: PathBuf, source: CreateError },
    #[error("uploading to Walrus: {0}")]
    Upload(#[from] UploadError),
    #[error("the cloud at {url} cannot be reached (is `euca cloud` running?): {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the cloud refused {action}: {code}: {message}")]
    Refused {
        action: &'static str,
        code: String,
        message: String,
    },
    #[error("the cloud's answer to {action} lacks {what}")]
    Answer {
        action: &'static str,
        what: &'static str,
    },
}

/// Bundles, uploads and registers the default image on the cloud whose data folder is
/// `data`, as its administrator; `progress` is told each step.
pub async fn add_default(
    data: &Path,
    keys: &Path,
    sources: &Sources,
    mut progress: impl FnMut(&str),
) -> Result<DefaultImage, DefaultImageError> {
    let eucarc = Eucarc::of_admin(data).await?;
    let ec2 = eucarc.ec2();
    let mut found = ec2.own_images().await?;
    if Part::ALL
        .iter()
        .all(|part| found.contains_key(&part.location()))
    {
        return Ok(DefaultImage {
            kernel: found[&Part::Kernel.location()].clone(),
            ramdisk: found[&Part::Ramdisk.location()].clone(),
            machine: found[&Part::Machine.location()].clone(),
            registered: false,
        });
    }
    let work = data.join("default-image");
    let files = files(&work, sources, &mut progress).await?;
    trust_signer(keys, &eucarc.certificate).await?;
    let mut ids = BTreeMap::new();
    for (part, file) in Part::ALL.into_iter().zip(files) {
        let location = part.location();
        if let Some(id) = found.remove(&location) {
            progress(&format!("{} is registered already as {id}", part.name()));
            ids.insert(part, id);
            continue;
        }
        let (kernel_id, ramdisk_id) = match part {
            Part::Kernel => (Some("true".to_owned()), None),
            Part::Ramdisk => (None, Some("true".to_owned())),
            Part::Machine => (
                ids.get(&Part::Kernel).cloned(),
                ids.get(&Part::Ramdisk).cloned(),
            ),
        };
        let manifest = bundle(&eucarc, &work, part, &file, kernel_id, ramdisk_id).await?;
        progress(&format!("bundled {}", manifest.display()));
        upload(
            &UploadSpec {
                url: &eucarc.s3_url,
                access_key: &eucarc.access_key,
                secret_key: &eucarc.secret_key,
                bucket: BUCKET,
                manifest: &manifest,
            },
            |_| {},
        )
        .await?;
        progress(&format!("uploaded {location}"));
        let id = ec2.register(&location, part.name()).await?;
        progress(&format!("registered {location} as {id}"));
        ids.insert(part, id);
    }
    let mut take = |part: Part| ids.remove(&part).unwrap_or_default();
    Ok(DefaultImage {
        kernel: take(Part::Kernel),
        ramdisk: take(Part::Ramdisk),
        machine: take(Part::Machine),
        registered: true,
    })
}

/// Whether some zone of the cloud whose data folder is `data` has room for an instance of
/// some VM type, as its administrator's `verbose` DescribeAvailabilityZones shows it: until
/// the CC has polled a node and the CLC the CC, a fresh cloud has none. Asked at `ec2_url`,
/// where the cloud serves now: the eucarc names where it served when it was written.
pub async fn zone_has_room(data: &Path, ec2_url: &str) -> Result<bool, DefaultImageError> {
    let eucarc = Eucarc::of_admin(data).await?;
    let ec2 = QueryClient {
        url: ec2_url,
        ..eucarc.ec2()
    };
    let answer = ec2
        .call("DescribeAvailabilityZones", &[("ZoneName.1", "verbose")])
        .await?;
    Ok(descendants(&answer, "item").into_iter().any(type_has_room))
}

/// Whether a `verbose` line is a VM type's (`|- m1.small`, `0003 / 0004   1 ...`) with some
/// free.
fn type_has_room(item: &Element) -> bool {
    let is_type = text_of(item, "zoneName")
        .is_some_and(|name| name.starts_with("|- ") && name != "|- vm types");
    is_type
        && text_of(item, "zoneState")
            .and_then(|state| state.split_whitespace().next()?.parse::<u32>().ok())
            .is_some_and(|free| free > 0)
}

/// The kernel, ramdisk and root disk to bundle: the given kernel and ramdisk, else stand-ins
/// written into `work`.
async fn files(
    work: &Path,
    sources: &Sources,
    progress: &mut impl FnMut(&str),
) -> Result<[PathBuf; 3], DefaultImageError> {
    let (kernel, ramdisk) = match (&sources.kernel, &sources.ramdisk) {
        (Some(kernel), Some(ramdisk)) => (kernel.clone(), ramdisk.clone()),
        (None, None) => {
            progress("no --kernel and --ramdisk: registering stand-ins the test driver runs");
            (work.join("stand-in-kernel"), work.join("stand-in-ramdisk"))
        }
        _ => return Err(DefaultImageError::HalfSources),
    };
    let stand_ins = sources.kernel.is_none();
    let root = work.join("root.img");
    let written = {
        let (work, kernel, ramdisk, root) = (
            work.to_owned(),
            kernel.clone(),
            ramdisk.clone(),
            root.clone(),
        );
        kit::blocking(move || {
            let io = |path: &Path| {
                let path = path.to_owned();
                move |source| DefaultImageError::Io { path, source }
            };
            std::fs::create_dir_all(&work).map_err(io(&work))?;
            let mut writes = vec![(root, vec![0; ROOT_DISK_BYTES])];
            if stand_ins {
                writes.push((kernel, b"euca stand-in kernel\n".repeat(256)));
                writes.push((ramdisk, b"euca stand-in ramdisk\n".repeat(512)));
            }
            for (path, bytes) in writes {
                std::fs::write(&path, bytes).map_err(io(&path))?;
            }
            Ok::<_, DefaultImageError>(())
        })
    };
    written.await?;
    Ok([kernel, ramdisk, root])
}

/// Bundles `file` as `part` into `work`; the manifest's path.
async fn bundle(
    eucarc: &Eucarc,
    work: &Path,
    part: Part,
    file: &Path,
    kernel_id: Option<String>,
    ramdisk_id: Option<String>,
) -> Result<PathBuf, DefaultImageError> {
    let (certificate, key, cloud_certificate) = (
        eucarc.certificate.clone(),
        eucarc.private_key.clone(),
        eucarc.cloud_certificate.clone(),
    );
    let (work, file, user) = (work.to_owned(), file.to_owned(), eucarc.user_id.clone());
    kit::blocking(move || {
        let keys = |e: &dyn std::fmt::Display| DefaultImageError::Keys(e.to_string());
        let user_certificate = soap::keys::load_certificate(&certificate).map_err(|e| keys(&e))?;
        let cloud_certificate =
            soap::keys::load_certificate(&cloud_certificate).map_err(|e| keys(&e))?;
        let pem = std::fs::read(&key).map_err(|source| DefaultImageError::Io {
            path: key.clone(),
            source,
        })?;
        let user_key = openssl::pkey::PKey::private_key_from_pem(&pem).map_err(|e| keys(&e))?;
        create(&BundleSpec {
            image: &file,
            destination: &work,
            prefix: Some(part.name()),
            part_size: DEFAULT_PART_SIZE,
            user: &user.replace('-', ""),
            architecture: "x86_64",
            kernel_id: kernel_id.as_deref(),
            ramdisk_id: ramdisk_id.as_deref(),
            user_certificate: &user_certificate,
            user_key: &user_key,
            cloud_certificate: &cloud_certificate,
        })
        .map(|bundle| bundle.manifest)
        .map_err(|source| DefaultImageError::Bundle { file, source })
    })
    .await
}

/// Walrus serves a node the image of a manifest a certificate in `KEYS/users` signed: the
/// administrator's goes there (Walrus shares the cloud's keys).
async fn trust_signer(keys: &Path, certificate: &Path) -> Result<(), DefaultImageError> {
    let (folder, certificate) = (keys.join("users"), certificate.to_owned());
    kit::blocking(move || {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| DefaultImageError::Io { path, source }
        };
        std::fs::create_dir_all(&folder).map_err(io(&folder))?;
        let pem = std::fs::read(&certificate).map_err(io(&certificate))?;
        let target = folder.join("admin.pem");
        std::fs::write(&target, pem).map_err(io(&target))
    })
    .await
}

/// What the default image needs of the administrator's eucarc.
#[derive(Debug, Clone)]
struct Eucarc {
    ec2_url: String,
    s3_url: String,
    access_key: String,
    secret_key: String,
    user_id: String,
    certificate: PathBuf,
    private_key: PathBuf,
    cloud_certificate: PathBuf,
}

impl Eucarc {
    /// The administrator's, in the cloud's data folder `data`.
    async fn of_admin(data: &Path) -> Result<Self, DefaultImageError> {
        let path = data.join("credentials/admin/eucarc");
        kit::blocking(move || Self::read(&path)).await
    }

    /// The cloud's Query API with these keys.
    fn ec2(&self) -> QueryClient<'_> {
        QueryClient {
            url: &self.ec2_url,
            access_key: &self.access_key,
            secret_key: &self.secret_key,
        }
    }

    /// Reads the `export NAME=VALUE` lines of `path`; `${EUCA_KEY_DIR}` is its folder.
    fn read(path: &Path) -> Result<Self, DefaultImageError> {
        let text = std::fs::read_to_string(path).map_err(|source| DefaultImageError::Io {
            path: path.to_owned(),
            source,
        })?;
        let folder = path.parent().unwrap_or_else(|| Path::new("."));
        let values: BTreeMap<&str, String> = text
            .lines()
            .filter_map(|line| line.strip_prefix("export ")?.split_once('='))
            .map(|(name, value)| {
                let value = value.trim().trim_matches('\'').trim_matches('"');
                let value = value.replace("${EUCA_KEY_DIR}", &folder.display().to_string());
                (name.trim(), value)
            })
            .collect();
        let get = |name: &'static str| {
            values
                .get(name)
                .cloned()
                .ok_or_else(|| DefaultImageError::Eucarc {
                    path: path.to_owned(),
                    name,
                })
        };
        Ok(Self {
            ec2_url: get("EC2_URL")?,
            s3_url: get("S3_URL")?,
            access_key: get("EC2_ACCESS_KEY")?,
            secret_key: get("EC2_SECRET_KEY")?,
            user_id: get("EC2_USER_ID")?,
            certificate: get("EC2_CERT")?.into(),
            private_key: get("EC2_PRIVATE_KEY")?.into(),
            cloud_certificate: get("EUCALYPTUS_CERT")?.into(),
        })
    }
}

/// The cloud's Query API, signed with Signature Version 2 (HmacSHA256) as euca2ools 1.x did.
struct QueryClient<'a> {
    url: &'a str,
    access_key: &'a str,
    secret_key: &'a str,
}

impl QueryClient<'_> {
    /// The caller's images, by manifest location.
    async fn own_images(&self) -> Result<BTreeMap<String, String>, DefaultImageError> {
        const ACTION: &str = "DescribeImages";
        let answer = self.call(ACTION, &[("Owner.1", "self")]).await?;
        let mut images = BTreeMap::new();
        for set in descendants(&answer, "imagesSet") {
            for item in set.elements() {
                if let (Some(id), Some(location)) =
                    (text_of(item, "imageId"), text_of(item, "imageLocation"))
                {
                    images.insert(location, id);
                }
            }
        }
        Ok(images)
    }

    /// RegisterImage of the manifest at `location`; the new image's id.
    async fn register(&self, location: &str, name: &str) -> Result<String, DefaultImageError> {
        const ACTION: &str = "RegisterImage";
        let answer = self
            .call(ACTION, &[("ImageLocation", location), ("Name", name)])
            .await?;
        text_of(&answer, "imageId").ok_or(DefaultImageError::Answer {
            action: ACTION,
            what: "imageId",
        })
    }

    async fn call(
        &self,
        action: &'static str,
        params: &[(&str, &str)],
    ) -> Result<Element, DefaultImageError> {
        let unreachable = |reason: String| DefaultImageError::Unreachable {
            url: self.url.to_owned(),
            reason,
        };
        let uri: Uri = self
            .url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| unreachable(e.to_string()))?;
        let host = uri
            .authority()
            .map(|a| a.as_str().to_ascii_lowercase())
            .ok_or_else(|| unreachable("the URL names no host".into()))?;
        let timestamp = kit::time::iso8601_millis(kit::time::now_millis());
        let mut all = vec![
            ("Action", action),
            ("Version", API_VERSION),
            ("AWSAccessKeyId", self.access_key),
            ("SignatureVersion", "2"),
            ("SignatureMethod", "HmacSHA256"),
            ("Timestamp", &timestamp),
        ];
        all.extend_from_slice(params);
        let body = crate::query::auth::sign_v2("POST", &host, uri.path(), &all, self.secret_key);
        let request = Request::post(uri)
            .header(
                hyper::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| unreachable(e.to_string()))?;
        let client = Client::builder(TokioExecutor::new()).build_http();
        let response = client
            .request(request)
            .await
            .map_err(|e| unreachable(soap::error_chain(&e)))?;
        let status = response.status();
        let document = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| unreachable(e.to_string()))?
            .to_bytes();
        let root = xmlbind::parse(&document, &xmlbind::Limits::default()).map_err(|e| {
            DefaultImageError::Refused {
                action,
                code: status.to_string(),
                message: format!("not an EC2 answer: {e}"),
            }
        })?;
        if status != StatusCode::OK {
            return Err(DefaultImageError::Refused {
                action,
                code: text_of(&root, "Code").unwrap_or_else(|| status.to_string()),
                message: text_of(&root, "Message").unwrap_or_default(),
            });
        }
        Ok(root)
    }
}

/// Every element named `local` under `element` (itself included), depth first.
fn descendants<'a>(element: &'a Element, local: &str) -> Vec<&'a Element> {
    let mut found = Vec::new();
    let mut stack = vec![element];
    while let Some(e) = stack.pop() {
        if e.name.local == local {
            found.push(e);
        }
        stack.extend(e.elements());
    }
    found
}

/// The text of the first element named `local` under `element`.
fn text_of(element: &Element, local: &str) -> Option<String> {
    descendants(element, local)
        .first()
        .and_then(|e| e.text().ok())
        .map(|t| t.trim().to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_a_vm_type_with_free_room_counts() {
        let item = |name: &str, state: &str| {
            let xml =
                format!("<item><zoneName>{name}</zoneName><zoneState>{state}</zoneState></item>");
            xmlbind::parse(xml.as_bytes(), &xmlbind::Limits::default()).unwrap()
        };
        assert!(type_has_room(&item(
            "|- m1.small",
            "0003 / 0004   1    128    2"
        )));
        assert!(!type_has_room(&item(
            "|- m1.small",
            "0000 / 0004   1    128    2"
        )));
        assert!(!type_has_room(&item(
            "|- vm types",
            "free / max   cpu   ram  disk"
        )));
        assert!(!type_has_room(&item("cluster1", "available")));
    }

    #[test]
    fn the_eucarc_gives_urls_keys_and_files_in_its_own_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eucarc");
        std::fs::write(
            &path,
            "EUCA_KEY_DIR=$(cd \"$(dirname \"${BASH_SOURCE:-$0}\")\" && pwd -P)\n\
             export EC2_URL=http://127.0.0.1:8773/services/Eucalyptus\n\
             export S3_URL=http://127.0.0.1:8773/services/Walrus\n\
             export EC2_ACCESS_KEY='AK'\nexport EC2_SECRET_KEY='SK'\n\
             export EC2_CERT=${EUCA_KEY_DIR}/euca2-admin-cert.pem\n\
             export EC2_PRIVATE_KEY=${EUCA_KEY_DIR}/euca2-admin-pk.pem\n\
             export EUCALYPTUS_CERT=${EUCA_KEY_DIR}/cloud-cert.pem\n\
             export EC2_USER_ID='0123'\n",
        )
        .unwrap();
        let eucarc = Eucarc::read(&path).unwrap();
        assert_eq!(eucarc.access_key, "AK");
        assert_eq!(eucarc.secret_key, "SK");
        assert_eq!(eucarc.s3_url, "http://127.0.0.1:8773/services/Walrus");
        assert_eq!(eucarc.certificate, dir.path().join("euca2-admin-cert.pem"));
        std::fs::write(&path, "export EC2_URL=x\n").unwrap();
        assert!(matches!(
            Eucarc::read(&path),
            Err(DefaultImageError::Eucarc { name: "S3_URL", .. })
        ));
    }

    #[test]
    fn answers_are_read_for_the_elements_named_at_any_depth() {
        let answer = xmlbind::parse(
            b"<DescribeImagesResponse><imagesSet><item><imageId>eki-1</imageId>\
              <imageLocation>b/k.manifest.xml</imageLocation></item></imagesSet>\
              </DescribeImagesResponse>",
            &xmlbind::Limits::default(),
        )
        .unwrap();
        assert_eq!(text_of(&answer, "imageId").as_deref(), Some("eki-1"));
        assert_eq!(descendants(&answer, "item").len(), 1);
        assert_eq!(text_of(&answer, "Code"), None);
    }
}
