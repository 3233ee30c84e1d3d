//! `euca bundle-image` and `euca upload-bundle`: euca-bundle-image's and euca-upload-bundle's
//! options and behaviour, with the same environment variables as defaults (`EC2_CERT`,
//! `EC2_PRIVATE_KEY`, `EUCALYPTUS_CERT`, `EC2_USER_ID`; `S3_URL`, `EC2_ACCESS_KEY`,
//! `EC2_SECRET_KEY`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use super::create::{create, BundleSpec, DEFAULT_PART_SIZE};
use super::upload::{upload, Step, UploadSpec};

/// Bundle an image for Walrus: tar, gzip, encrypt to the cloud's and the user's
/// certificates, split into parts, and write a manifest signed with the user's key.
#[derive(Debug, clap::Args)]
pub struct BundleImageArgs {
    /// The image file to bundle.
    #[arg(short = 'i', long)]
    image: PathBuf,
    /// The user's certificate (PEM).
    #[arg(short = 'c', long = "cert", env = "EC2_CERT")]
    certificate: PathBuf,
    /// The user's private key (PEM), which signs the manifest.
    #[arg(short = 'k', long = "privatekey", env = "EC2_PRIVATE_KEY")]
    private_key: PathBuf,
    /// The cloud's certificate (PEM): Walrus decrypts the bundle with its key.
    #[arg(long = "ec2cert", env = "EUCALYPTUS_CERT")]
    cloud_certificate: PathBuf,
    /// Directory the bundle is written to.
    #[arg(short = 'd', long = "destination", default_value = "/tmp")]
    destination: PathBuf,
    /// Start of the bundle's file names (default: the image's file name).
    #[arg(short = 'p', long)]
    prefix: Option<String>,
    /// Size of each part, in bytes.
    #[arg(long, default_value_t = DEFAULT_PART_SIZE)]
    part_size: u64,
    /// The user's account id, recorded in the manifest.
    #[arg(short = 'u', long, env = "EC2_USER_ID", default_value = "")]
    user: String,
    /// Architecture the image runs on.
    #[arg(short = 'r', long = "arch", default_value = "x86_64", value_parser = ["i386", "x86_64"])]
    architecture: String,
    /// Kernel to boot the image with (`true`: the image is a kernel).
    #[arg(long)]
    kernel: Option<String>,
    /// Ramdisk to boot the image with (`true`: the image is a ramdisk).
    #[arg(long)]
    ramdisk: Option<String>,
}

/// Runs `euca bundle-image`.
pub fn main(args: BundleImageArgs) -> ExitCode {
    match bundle(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("euca bundle-image: {message}");
            ExitCode::FAILURE
        }
    }
}

fn bundle(args: &BundleImageArgs) -> Result<(), String> {
    let user_certificate = certificate(&args.certificate)?;
    let cloud_certificate = certificate(&args.cloud_certificate)?;
    let user_key = private_key(&args.private_key)?;
    // euca-bundle-image accepts the account id with dashes, as the console shows it.
    let user = args.user.replace('-', "");
    let bundle = create(&BundleSpec {
        image: &args.image,
        destination: &args.destination,
        prefix: args.prefix.as_deref(),
        part_size: args.part_size,
        user: &user,
        architecture: &args.architecture,
        kernel_id: args.kernel.as_deref(),
        ramdisk_id: args.ramdisk.as_deref(),
        user_certificate: &user_certificate,
        user_key: &user_key,
        cloud_certificate: &cloud_certificate,
    })
    .map_err(|e| e.to_string())?;
    for part in &bundle.parts {
        println!("Part: {}", part.display());
    }
    println!("Generated manifest {}", bundle.manifest.display());
    Ok(())
}

fn certificate(path: &Path) -> Result<X509, String> {
    soap::keys::load_certificate(path).map_err(|e| e.to_string())
}

fn private_key(path: &Path) -> Result<PKey<Private>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    PKey::private_key_from_pem(&pem)
        .map_err(|e| format!("{}: not a PEM private key: {e}", path.display()))
}

/// Upload a bundle `euca bundle-image` made into a Walrus bucket (made if it is not there):
/// its parts, then its manifest, readable by the cloud (`aws-exec-read`).
#[derive(Debug, clap::Args)]
pub struct UploadBundleArgs {
    /// The bucket to upload into.
    #[arg(short = 'b', long)]
    bucket: String,
    /// The bundle's manifest; its parts are the files it names beside it.
    #[arg(short = 'm', long)]
    manifest: PathBuf,
    /// Walrus' URL (eucarc's S3_URL).
    #[arg(short = 'U', long = "url", env = "S3_URL")]
    url: String,
    /// The user's access key.
    #[arg(
        short = 'a',
        long = "access-key",
        env = "EC2_ACCESS_KEY",
        hide_env_values = true
    )]
    access_key: String,
    /// The user's secret key.
    #[arg(
        short = 's',
        long = "secret-key",
        env = "EC2_SECRET_KEY",
        hide_env_values = true
    )]
    secret_key: String,
}

/// Runs `euca upload-bundle`.
pub fn upload_main(args: UploadBundleArgs) -> ExitCode {
    let spec = UploadSpec {
        url: &args.url,
        access_key: &args.access_key,
        secret_key: &args.secret_key,
        bucket: &args.bucket,
        manifest: &args.manifest,
    };
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
        .and_then(|runtime| {
            runtime
                .block_on(upload(&spec, |step| say(&step_text(&args.bucket, step))))
                .map_err(|e| e.to_string())
        });
    match result {
        Ok(location) => {
            say(&format!("Uploaded image as {location}"));
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("euca upload-bundle: {message}");
            ExitCode::FAILURE
        }
    }
}

fn step_text(bucket: &str, step: Step<'_>) -> String {
    match step {
        Step::Bucket => format!("Bucket {bucket} is ready"),
        Step::Uploaded(name) => format!("Uploaded {name}"),
    }
}

/// Prints a progress line; a closed standard output (`| head`) does not stop the upload.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}
