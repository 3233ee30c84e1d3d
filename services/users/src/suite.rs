//! One behaviour for both engines: the checks every [`Directory`] passes, and the legacy
//! migration's, run by each engine's tests.

#![allow(clippy::unwrap_used)]

use crate::{Directory, PasswordChange, Quota, Resource, User, UserError, ADMIN_NAME, ROOT_NAME};

/// Checks accounts, users, keys and lookups on an empty directory.
pub(crate) async fn run(dir: &Directory) {
    accounts(dir).await;
    users_in_accounts(dir).await;
    keys(dir).await;
    quotas(dir).await;
    passwords(dir).await;
}

async fn accounts(dir: &Directory) {
    let admin = dir.ensure_admin().await.unwrap().unwrap();
    assert!(admin.admin && admin.is_root() && admin.enabled);
    assert!(dir.ensure_admin().await.unwrap().is_none());
    let (ann, root) = dir
        .create_account("ann", Some("ann@example.com"))
        .await
        .unwrap();
    assert!(ann.id.len() == 12 && ann.id.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(ann.canonical_id.len(), 64);
    assert_eq!(
        (root.name.as_str(), root.account.as_str()),
        (ROOT_NAME, "ann")
    );
    assert!(!root.admin && root.enabled && root.access_key.len() == 20);
    assert_eq!(root.canonical_id, ann.canonical_id);
    assert_eq!(root.arn(), format!("arn:aws:iam::{}:user/admin", ann.id));
    assert!(matches!(
        dir.create_account("ann", None).await,
        Err(UserError::Exists {
            kind: "account",
            ..
        })
    ));
    for bad in ["", "a b", "x/y", &"n".repeat(65)] {
        assert!(
            matches!(
                dir.create_account(bad, None).await,
                Err(UserError::Invalid(_))
            ),
            "{bad:?}"
        );
    }
    assert_eq!(dir.account("ann").await.unwrap().as_ref(), Some(&ann));
    let names: Vec<String> = dir
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, [ADMIN_NAME, "ann"]);

    // The lookups Walrus makes find the root user, with the key it was made with.
    let lookup = dir.lookup();
    assert_eq!(dir.root_of("ann").await.unwrap().as_ref(), Some(&root));
    assert_eq!(lookup.root_of("ann").unwrap().as_ref(), Some(&root));
    assert_eq!(
        lookup.by_access_key(&root.access_key).unwrap().as_ref(),
        Some(&root)
    );
    assert_eq!(
        lookup.by_canonical_id(&ann.canonical_id).unwrap().as_ref(),
        Some(&root)
    );
    assert_eq!(
        lookup.by_email("ann@example.com").unwrap().as_ref(),
        Some(&root)
    );
    assert!(lookup.by_access_key("NOPE").unwrap().is_none());

    // A disabled account's users are disabled, whatever their keys.
    dir.set_account_enabled("ann", false).await.unwrap();
    assert!(
        !lookup
            .by_access_key(&root.access_key)
            .unwrap()
            .unwrap()
            .enabled
    );
    assert!(!dir.account("ann").await.unwrap().unwrap().enabled);
    dir.set_account_enabled("ann", true).await.unwrap();
    assert!(
        lookup
            .by_access_key(&root.access_key)
            .unwrap()
            .unwrap()
            .enabled
    );
    assert!(matches!(
        dir.set_account_enabled("nobody", false).await,
        Err(UserError::NotFound {
            kind: "account",
            ..
        })
    ));
    assert!(matches!(
        dir.delete_account(ADMIN_NAME).await,
        Err(UserError::DeleteConflict(_))
    ));
}

async fn users_in_accounts(dir: &Directory) {
    let (_, _) = dir.create_account("bea", None).await.unwrap();
    let dev = dir.create_user("bea", "dev", "/eng/").await.unwrap();
    assert_eq!((dev.account.as_str(), dev.path.as_str()), ("bea", "/eng/"));
    assert!(dev.id.starts_with("AIDA") && dev.id.len() == 21);
    assert!(!dev.is_root() && !dev.admin && dev.enabled);
    assert_eq!(dev.access_key, "", "a new IAM user has no key");
    let root = dir.root_of("bea").await.unwrap().unwrap();
    assert_eq!(
        dev.canonical_id, root.canonical_id,
        "the account's canonical id"
    );
    // Names are unique per account, not across accounts.
    dir.create_user("ann", "dev", "/").await.unwrap();
    assert!(matches!(
        dir.create_user("bea", "dev", "/").await,
        Err(UserError::Exists { kind: "user", .. })
    ));
    assert!(matches!(
        dir.create_user("nobody", "dev", "/").await,
        Err(UserError::NotFound {
            kind: "account",
            ..
        })
    ));
    assert!(matches!(
        dir.create_user("bea", "ops", "no-slash").await,
        Err(UserError::Invalid(_))
    ));
    dir.create_user("bea", "ops", "/ops/").await.unwrap();
    let names = |users: Vec<User>| users.into_iter().map(|u| u.name).collect::<Vec<_>>();
    assert_eq!(
        names(dir.users("bea", "/").await.unwrap()),
        [ROOT_NAME, "dev", "ops"]
    );
    assert_eq!(names(dir.users("bea", "/eng/").await.unwrap()), ["dev"]);
    assert_eq!(dir.user("bea", "dev").await.unwrap().as_ref(), Some(&dev));

    dir.set_user_enabled("bea", "dev", false).await.unwrap();
    assert!(!dir.user("bea", "dev").await.unwrap().unwrap().enabled);
    assert!(dir.user("ann", "dev").await.unwrap().unwrap().enabled);
    assert!(matches!(
        dir.delete_user("bea", ROOT_NAME).await,
        Err(UserError::DeleteConflict(_))
    ));
    dir.delete_user("bea", "ops").await.unwrap();
    assert!(matches!(
        dir.delete_user("bea", "ops").await,
        Err(UserError::NotFound { kind: "user", .. })
    ));
    // An account goes with its users and their keys.
    let key = dir.create_key("bea", "dev").await.unwrap();
    dir.delete_account("bea").await.unwrap();
    assert!(dir.account("bea").await.unwrap().is_none());
    assert!(dir.user("bea", "dev").await.unwrap().is_none());
    assert!(dir.by_access_key(&key.access_key).await.unwrap().is_none());
    assert!(dir.by_access_key(&root.access_key).await.unwrap().is_none());
}

async fn keys(dir: &Directory) {
    dir.create_account("cy", None).await.unwrap();
    let user = dir.create_user("cy", "app", "/").await.unwrap();
    let first = dir.create_key("cy", "app").await.unwrap();
    assert!(first.active && first.user == "app" && first.account == "cy");
    let second = dir.create_key("cy", "app").await.unwrap();
    assert!(matches!(
        dir.create_key("cy", "app").await,
        Err(UserError::LimitExceeded(_))
    ));
    assert!(matches!(
        dir.create_key("cy", "nobody").await,
        Err(UserError::NotFound { kind: "user", .. })
    ));
    let mut both = vec![first.clone(), second.clone()];
    both.sort_by(|a, b| (a.created, &a.access_key).cmp(&(b.created, &b.access_key)));
    assert_eq!(dir.keys("cy", "app").await.unwrap(), both);

    // A lookup by key names the key it matched; others show the first active key.
    let by_second = dir
        .by_access_key(&second.access_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (by_second.access_key.as_str(), by_second.secret_key.as_str()),
        (second.access_key.as_str(), second.secret_key.as_str())
    );
    assert_eq!(
        (by_second.id.as_str(), by_second.name.as_str()),
        (user.id.as_str(), "app")
    );
    assert_eq!(
        dir.user("cy", "app").await.unwrap().unwrap().access_key,
        both[0].access_key
    );

    // An inactive key's lookups are disabled; the user's others are not.
    dir.set_key_active("cy", "app", &first.access_key, false)
        .await
        .unwrap();
    assert!(
        !dir.by_access_key(&first.access_key)
            .await
            .unwrap()
            .unwrap()
            .enabled
    );
    assert!(
        dir.by_access_key(&second.access_key)
            .await
            .unwrap()
            .unwrap()
            .enabled
    );
    assert_eq!(
        dir.user("cy", "app").await.unwrap().unwrap().access_key,
        second.access_key
    );
    // Keys are changed through their own user only.
    assert!(matches!(
        dir.set_key_active("cy", ROOT_NAME, &second.access_key, false)
            .await,
        Err(UserError::NotFound {
            kind: "access key",
            ..
        })
    ));
    dir.delete_key("cy", "app", &first.access_key)
        .await
        .unwrap();
    assert!(dir
        .by_access_key(&first.access_key)
        .await
        .unwrap()
        .is_none());
    dir.create_key("cy", "app").await.unwrap();
    assert_eq!(dir.keys("cy", "app").await.unwrap().len(), 2);
    // A user goes with its keys.
    dir.delete_user("cy", "app").await.unwrap();
    assert!(dir
        .by_access_key(&second.access_key)
        .await
        .unwrap()
        .is_none());
}

/// Limits are set, replaced, listed per account (the account's own first) and cleared; the
/// synchronous lookup sees them at once.
async fn quotas(dir: &Directory) {
    for name in ["qa", "qb"] {
        dir.create_account(name, None).await.unwrap();
    }
    let mut account = Quota {
        account: "qa".into(),
        user: None,
        resource: Resource::BucketGb,
        limit: 1 << 20,
    };
    dir.set_quota(&account).await.unwrap();
    account.limit = 2 << 20;
    dir.set_quota(&account).await.unwrap();
    let user = Quota {
        user: Some("u".into()),
        resource: Resource::Instances,
        limit: 2,
        ..account.clone()
    };
    dir.set_quota(&user).await.unwrap();
    let other = Quota {
        account: "qb".into(),
        ..account.clone()
    };
    dir.set_quota(&other).await.unwrap();
    assert_eq!(
        dir.lookup().quotas("qa").unwrap(),
        [account.clone(), user.clone()]
    );
    assert_eq!(
        dir.quotas(None).await.unwrap(),
        [account.clone(), user, other]
    );
    assert!(dir
        .clear_quota("qa", Some("u"), Resource::Instances)
        .await
        .unwrap());
    assert!(!dir
        .clear_quota("qa", Some("u"), Resource::Instances)
        .await
        .unwrap());
    assert_eq!(dir.quotas(Some("qa")).await.unwrap(), [account]);
    dir.delete_account("qb").await.unwrap();
    assert!(
        dir.quotas(Some("qb")).await.unwrap().is_empty(),
        "gone with the account"
    );
}

/// A database of the schema before accounts, as the fixtures of
/// `tests/fixtures/identity/users-before-accounts.*.sql` make it (the integration tests use
/// the same files).
/// Login profiles: created once, updated only when present, checked, gone with the user.
async fn passwords(dir: &Directory) {
    dir.create_account("pw", None).await.unwrap();
    dir.create_user("pw", "ana", "/").await.unwrap();
    assert!(dir.login_profile("pw", "ana").await.unwrap().is_none());
    assert!(matches!(
        dir.set_password("pw", "ana", "first-pass", PasswordChange::Update)
            .await,
        Err(UserError::NotFound {
            kind: "login profile",
            ..
        })
    ));
    let made = dir
        .set_password("pw", "ana", "first-pass", PasswordChange::Create)
        .await
        .unwrap();
    assert!(matches!(
        dir.set_password("pw", "ana", "other-pass", PasswordChange::Create)
            .await,
        Err(UserError::Exists {
            kind: "login profile",
            ..
        })
    ));
    assert!(matches!(
        dir.set_password("pw", "nobody", "first-pass", PasswordChange::Either)
            .await,
        Err(UserError::NotFound { kind: "user", .. })
    ));
    let ana = dir.check_password("pw", "ana", "first-pass").await.unwrap();
    assert_eq!(ana.map(|u| u.name), Some("ana".to_owned()));
    assert!(dir
        .check_password("pw", "ana", "wrong-pass")
        .await
        .unwrap()
        .is_none());
    assert!(dir
        .check_password("pw", "bob", "first-pass")
        .await
        .unwrap()
        .is_none());

    // An update keeps the profile's date; the old password stops working.
    let updated = dir
        .set_password("pw", "ana", "second-pass", PasswordChange::Update)
        .await
        .unwrap();
    assert_eq!(updated, made);
    assert!(dir
        .check_password("pw", "ana", "first-pass")
        .await
        .unwrap()
        .is_none());
    assert!(dir
        .check_password("pw", "ana", "second-pass")
        .await
        .unwrap()
        .is_some());

    // A disabled user cannot sign in, whatever the password.
    dir.set_user_enabled("pw", "ana", false).await.unwrap();
    assert!(dir
        .check_password("pw", "ana", "second-pass")
        .await
        .unwrap()
        .is_none());
    dir.set_user_enabled("pw", "ana", true).await.unwrap();

    dir.delete_login_profile("pw", "ana").await.unwrap();
    assert!(dir
        .check_password("pw", "ana", "second-pass")
        .await
        .unwrap()
        .is_none());
    assert!(dir.delete_login_profile("pw", "ana").await.is_err());
    dir.set_password("pw", "ana", "third-pass", PasswordChange::Either)
        .await
        .unwrap();
    dir.delete_user("pw", "ana").await.unwrap();
    assert!(dir.login_profile("pw", "ana").await.unwrap().is_none());
}

pub(crate) const LEGACY_SQLITE: &str =
    include_str!("../../../tests/fixtures/identity/users-before-accounts.sqlite.sql");
pub(crate) const LEGACY_POSTGRES: &str =
    include_str!("../../../tests/fixtures/identity/users-before-accounts.postgres.sql");

/// A user of those fixtures: name, access key, secret (padded with zeros to 40), canonical
/// id (zeros before, to 64), e-mail, admin, enabled.
type LegacyUser = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    bool,
    bool,
);

const LEGACY_USERS: [LegacyUser; 3] = [
    (
        "admin",
        "AKLEGACYADMIN0000000",
        "LegacyAdminSecret",
        "a0a",
        None,
        true,
        true,
    ),
    (
        "bob",
        "AKLEGACYBOB000000000",
        "LegacyBobSecret",
        "b0b",
        Some("bob@example.com"),
        false,
        true,
    ),
    (
        "carol",
        "AKLEGACYCAROL0000000",
        "LegacyCarolSecret",
        "c0c",
        None,
        false,
        false,
    ),
];

/// Checks what the migration made of the fixtures' users: account X with root user `admin`
/// holding X's key, its canonical id and its enabled flag; and that `reopened`, the same
/// database opened again, changed nothing.
pub(crate) async fn migrated(dir: &Directory, reopened: &Directory) {
    let accounts = dir.accounts().await.unwrap();
    let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["admin", "bob", "carol"]);
    for (name, access, secret, canonical, email, admin, enabled) in LEGACY_USERS {
        let account = accounts.iter().find(|a| a.name == name).unwrap();
        assert_eq!(
            (account.canonical_id.clone(), account.enabled),
            (format!("{canonical:0>64}"), enabled)
        );
        assert!(account.id.len() == 12 && account.id.bytes().all(|b| b.is_ascii_digit()));
        let user = dir.by_access_key(access).await.unwrap().unwrap();
        assert_eq!(
            (&*user.name, &*user.account, user.secret_key.clone()),
            (ROOT_NAME, name, format!("{secret:0<40}"))
        );
        assert_eq!((user.admin, user.enabled), (admin, enabled));
        assert_eq!(user.email.as_deref(), email);
        assert_eq!(user.canonical_id, account.canonical_id);
        assert!(
            user.id.starts_with("AIDA") && user.id.len() == 21,
            "{}",
            user.id
        );
        assert_eq!(dir.keys(name, ROOT_NAME).await.unwrap().len(), 1);
    }
    let ids: Vec<String> = accounts.into_iter().map(|a| a.id).collect();
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 3, "account ids are unique");
    let kept: Vec<String> = reopened
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(kept, ids, "a second open changes nothing");
}
