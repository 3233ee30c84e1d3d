//! CreateKeyPair, DeleteKeyPair, DescribeKeyPairs. The cloud keeps a keypair's public key
//! (which instances receive) and fingerprint; the private key is returned once and forgotten.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use openssl::error::ErrorStack;
use openssl::hash::{hash, MessageDigest};
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;

use wire::ec2::{
    CreateKeyPairResponseType, CreateKeyPairType, DeleteKeyPairResponseType, DeleteKeyPairType,
    DescribeKeyPairsResponseInfoType, DescribeKeyPairsResponseItemType,
    DescribeKeyPairsResponseType, DescribeKeyPairsType,
};

use wire::query::Filter;

use super::filters::Filters;
use super::Call;
use crate::error::Ec2Error;
use crate::store::{KeyPair, StoreError};

/// A new keypair: what the store keeps, and the private key in PEM for the answer.
struct Created {
    keypair: KeyPair,
    private_pem: String,
}

pub(super) async fn create(
    call: &Call<'_>,
    request: CreateKeyPairType,
) -> Result<CreateKeyPairResponseType, Ec2Error> {
    let name = key_name(request.key_name)?;
    let owner = call.user.account.clone();
    let created = kit::blocking(move || generate(owner, name))
        .await
        .map_err(|e| Ec2Error::Internal(format!("key generation: {e}")))?;
    let keypair = created.keypair;
    call.cloud
        .store
        .add_keypair(&keypair)
        .await
        .map_err(|e| match e {
            StoreError::Exists { .. } => Ec2Error::KeyPairDuplicate(keypair.name.clone()),
            other => other.into(),
        })?;
    Ok(CreateKeyPairResponseType {
        request_id: call.request_id.to_owned(),
        key_name: keypair.name,
        key_fingerprint: keypair.fingerprint,
        key_material: created.private_pem,
    })
}

pub(super) async fn delete(
    call: &Call<'_>,
    request: DeleteKeyPairType,
) -> Result<DeleteKeyPairResponseType, Ec2Error> {
    // EC2 answers true whether or not the keypair existed.
    call.cloud
        .store
        .delete_keypair(&call.user.account, &request.key_name)
        .await?;
    Ok(DeleteKeyPairResponseType {
        request_id: call.request_id.to_owned(),
        r#return: true,
    })
}

pub(super) async fn describe(
    call: &Call<'_>,
    request: DescribeKeyPairsType,
    filters: &[Filter],
) -> Result<DescribeKeyPairsResponseType, Ec2Error> {
    let filters = Filters::new(filters, &["key-name", "fingerprint"])?;
    let names: Vec<&str> = request
        .key_set
        .item
        .iter()
        .map(|k| k.key_name.as_str())
        .collect();
    let owner = call.owner_filter(&names);
    let wanted: Vec<&str> = if owner.is_none() { Vec::new() } else { names };
    let keys = call.cloud.store.keypairs(owner).await?;
    if let Some(missing) = wanted.iter().find(|n| !keys.iter().any(|k| &k.name == *n)) {
        return Err(Ec2Error::KeyPairNotFound((*missing).to_owned()));
    }
    let item = keys
        .into_iter()
        .filter(|k| wanted.is_empty() || wanted.contains(&k.name.as_str()))
        .filter(|k| {
            filters.pass(|name| match name {
                "key-name" => vec![k.name.as_str()],
                _ => vec![k.fingerprint.as_str()],
            })
        })
        .map(|k| DescribeKeyPairsResponseItemType {
            key_name: k.name,
            key_fingerprint: k.fingerprint,
        })
        .collect();
    Ok(DescribeKeyPairsResponseType {
        request_id: call.request_id.to_owned(),
        key_set: DescribeKeyPairsResponseInfoType { item },
    })
}

/// EC2's key names: 1 to 255 ASCII characters.
fn key_name(name: String) -> Result<String, Ec2Error> {
    let printable = name.bytes().all(|b| b.is_ascii() && !b.is_ascii_control());
    if (1..=255).contains(&name.len()) && printable {
        Ok(name)
    } else {
        Err(Ec2Error::InvalidParameterValue(format!(
            "Invalid key name {name:?}: use 1 to 255 printable ASCII characters"
        )))
    }
}

/// A fresh RSA-2048 keypair for `owner`, named `name`.
fn generate(owner: String, name: String) -> Result<Created, ErrorStack> {
    let rsa = Rsa::generate(2048)?;
    let private_pem = String::from_utf8_lossy(&rsa.private_key_to_pem()?).into_owned();
    let key = PKey::from_rsa(rsa)?;
    let public_key = format!("{} {name}", openssh_public(&key)?);
    Ok(Created {
        keypair: KeyPair {
            owner,
            fingerprint: fingerprint(&key)?,
            public_key,
            name,
        },
        private_pem,
    })
}

/// EC2's fingerprint of a key it generated: the SHA-1 of the private key in DER PKCS#8,
/// as colon-separated hex pairs.
fn fingerprint(key: &PKey<Private>) -> Result<String, ErrorStack> {
    let der = key.private_key_to_pkcs8()?;
    let digest = hash(MessageDigest::sha1(), &der)?;
    Ok(digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":"))
}

/// The public key as OpenSSH writes it (`ssh-rsa BASE64`): the strings `ssh-rsa`, the
/// exponent and the modulus, each length-prefixed (RFC 4253 §6.6).
fn openssh_public(key: &PKey<Private>) -> Result<String, ErrorStack> {
    let rsa = key.rsa()?;
    let mut blob = Vec::new();
    let mut put = |bytes: &[u8]| {
        blob.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
        blob.extend_from_slice(bytes);
    };
    // mpints are two's complement: a leading 0 keeps a high bit from meaning negative.
    let mpint = |n: Vec<u8>| {
        if n.first().is_some_and(|b| b & 0x80 != 0) {
            [vec![0], n].concat()
        } else {
            n
        }
    };
    put(b"ssh-rsa");
    put(&mpint(rsa.e().to_vec()));
    put(&mpint(rsa.n().to_vec()));
    Ok(format!("ssh-rsa {}", BASE64.encode(blob)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_fingerprint_is_the_sha1_of_the_pkcs8_der_and_the_public_key_is_openssh() {
        let created = generate("ann".into(), "k1".into()).unwrap();
        let key = PKey::private_key_from_pem(created.private_pem.as_bytes()).unwrap();
        let der = key.private_key_to_pkcs8().unwrap();
        let sha1 = hash(MessageDigest::sha1(), &der).unwrap();
        let hex: String = sha1.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(created.keypair.fingerprint.replace(':', ""), hex);
        assert_eq!(created.keypair.fingerprint.len(), 59);
        assert!(created
            .private_pem
            .starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let (kind, rest) = created.keypair.public_key.split_once(' ').unwrap();
        assert_eq!(kind, "ssh-rsa");
        let (b64, comment) = rest.split_once(' ').unwrap();
        assert_eq!(comment, "k1");
        let blob = BASE64.decode(b64).unwrap();
        // "ssh-rsa", e = 65537 (3 bytes), n = 2048 bits with a leading zero (257 bytes).
        assert_eq!(&blob[..11], b"\0\0\0\x07ssh-rsa");
        assert_eq!(&blob[11..18], b"\0\0\0\x03\x01\x00\x01");
        assert_eq!(&blob[18..22], &257u32.to_be_bytes());
        assert_eq!(blob.len(), 22 + 257);
    }
}
