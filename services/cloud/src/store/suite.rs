//! What every [`Store`] engine must do, as one suite each engine's tests run on a fresh
//! store of its own.

#![allow(clippy::unwrap_used)]

use super::*;

/// Runs every check on `store`, which must be new.
pub async fn run(store: &dyn Store) {
    default_vm_types(store).await;
    keypairs_are_per_owner(store).await;
    rules_are_added_and_removed_all_or_none(store).await;
    deleting_a_user_deletes_what_they_own(store).await;
    clusters_and_facts(store).await;
    images_are_kept_by_id_and_deleted_by_their_owner(store).await;
    instances_are_kept_per_owner_and_marked_terminated(store).await;
    observations_are_recorded_and_vanished_instances_leave_the_live_set(store).await;
    a_client_token_names_one_reservation_per_owner(store).await;
}

fn group(owner: &str, name: &str, id: &str) -> SecurityGroup {
    SecurityGroup {
        owner: owner.into(),
        name: name.into(),
        id: id.into(),
        description: "d".into(),
        rules: Vec::new(),
    }
}

fn tcp(port: i32, source: Source) -> Rule {
    Rule {
        protocol: "tcp".into(),
        from_port: port,
        to_port: port,
        source,
    }
}

async fn default_vm_types(store: &dyn Store) {
    let types = store.vm_types().await.unwrap();
    let expected: Vec<VmType> = DEFAULT_VM_TYPES
        .iter()
        .map(|&(name, cores, memory_mb, disk_gb)| VmType {
            name: name.into(),
            cores,
            memory_mb,
            disk_gb,
        })
        .collect();
    assert_eq!(types, expected);
}

async fn keypairs_are_per_owner(store: &dyn Store) {
    let key = |owner: &str| KeyPair {
        owner: owner.into(),
        name: "k".into(),
        fingerprint: "aa:bb".into(),
        public_key: "ssh-rsa AAAA k".into(),
    };
    store.add_keypair(&key("ann")).await.unwrap();
    store.add_keypair(&key("bob")).await.unwrap();
    assert!(matches!(
        store.add_keypair(&key("ann")).await,
        Err(StoreError::Exists { .. })
    ));
    assert_eq!(store.keypairs(Some("ann")).await.unwrap(), vec![key("ann")]);
    assert_eq!(store.keypairs(None).await.unwrap().len(), 2);
    assert!(store.delete_keypair("ann", "k").await.unwrap());
    assert!(!store.delete_keypair("ann", "k").await.unwrap());
    assert_eq!(store.keypairs(None).await.unwrap(), vec![key("bob")]);
    assert!(store.delete_keypair("bob", "k").await.unwrap());
}

async fn rules_are_added_and_removed_all_or_none(store: &dyn Store) {
    store
        .add_group(&group("ann", "web", "sg-00000001"))
        .await
        .unwrap();
    let http = tcp(80, Source::Cidr("0.0.0.0/0".into()));
    let ssh = tcp(
        22,
        Source::Group {
            owner: "bob".into(),
            name: "admins".into(),
        },
    );
    store
        .authorize("ann", "web", std::slice::from_ref(&http))
        .await
        .unwrap();
    // The second rule is a duplicate: the first of this batch must not stay.
    let refused = store
        .authorize("ann", "web", &[ssh.clone(), http.clone()])
        .await;
    assert!(matches!(refused, Err(StoreError::Exists { .. })));
    let groups = store.groups(Some("ann")).await.unwrap();
    assert_eq!(groups[0].rules, vec![http.clone()]);
    store
        .authorize("ann", "web", std::slice::from_ref(&ssh))
        .await
        .unwrap();
    let refused = store
        .revoke(
            "ann",
            "web",
            &[ssh.clone(), tcp(443, Source::Cidr("10.0.0.0/8".into()))],
        )
        .await;
    assert!(matches!(refused, Err(StoreError::NotFound { .. })));
    assert_eq!(store.groups(None).await.unwrap()[0].rules.len(), 2);
    // A group another's rules name cannot go; once they are revoked it can.
    store
        .add_group(&group("bob", "admins", "sg-00000003"))
        .await
        .unwrap();
    assert!(matches!(
        store.delete_group("bob", "admins").await,
        Err(StoreError::InUse { .. })
    ));
    store.revoke("ann", "web", &[ssh]).await.unwrap();
    store.delete_group("bob", "admins").await.unwrap();
    assert_eq!(store.groups(None).await.unwrap()[0].rules, vec![http]);
    assert!(matches!(
        store.authorize("bob", "web", &[]).await,
        Err(StoreError::NotFound { .. })
    ));
    store.delete_group("ann", "web").await.unwrap();
    assert!(store.groups(None).await.unwrap().is_empty());
}

async fn deleting_a_user_deletes_what_they_own(store: &dyn Store) {
    let ann = store
        .create_user(NewUser {
            name: "ann".into(),
            ..NewUser::default()
        })
        .await
        .unwrap();
    store.put_certificate("ann", "PEM").await.unwrap();
    assert_eq!(
        store.certificate("ann").await.unwrap().as_deref(),
        Some("PEM")
    );
    store
        .add_group(&group("ann", "default", "sg-00000002"))
        .await
        .unwrap();
    assert_eq!(
        store.user_by_access_key(&ann.access_key).await.unwrap(),
        Some(ann)
    );
    store.set_user_enabled("ann", false).await.unwrap();
    assert!(!store.user_by_name("ann").await.unwrap().unwrap().enabled);
    store.delete_user("ann").await.unwrap();
    assert!(store.certificate("ann").await.unwrap().is_none());
    assert!(store.groups(None).await.unwrap().is_empty());
    assert!(store.delete_user("ann").await.is_err());
    let admin = store.ensure_admin().await.unwrap().unwrap();
    assert!(store.ensure_admin().await.unwrap().is_none());
    assert_eq!(store.users().await.unwrap(), vec![admin]);
}

async fn clusters_and_facts(store: &dyn Store) {
    assert!(store.facts().await.unwrap().is_none());
    let facts = CloudFacts {
        keys: "/keys".into(),
        ec2_url: "http://h:8773/services/Eucalyptus".into(),
        s3_url: "http://h:8773/services/Walrus".into(),
        region: "r".into(),
    };
    store.put_facts(&facts).await.unwrap();
    assert_eq!(store.facts().await.unwrap(), Some(facts));
    let one = Cluster {
        name: "one".into(),
        url: "http://a/axis2/services/EucalyptusCC".into(),
    };
    store.add_cluster(&one).await.unwrap();
    assert!(matches!(
        store.add_cluster(&one).await,
        Err(StoreError::Exists { .. })
    ));
    assert_eq!(store.clusters().await.unwrap(), vec![one]);
    store.remove_cluster("one").await.unwrap();
    assert!(matches!(
        store.remove_cluster("one").await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn images_are_kept_by_id_and_deleted_by_their_owner(store: &dyn Store) {
    let image = |id: &str, owner: &str| Image {
        id: id.into(),
        owner: owner.into(),
        location: "b/k.manifest.xml".into(),
        kind: ImageKind::of_id(id).unwrap(),
        public: true,
    };
    store
        .add_image(&image("emi-0000000b", "ann"))
        .await
        .unwrap();
    store
        .add_image(&image("eki-0000000a", "bob"))
        .await
        .unwrap();
    assert!(matches!(
        store.add_image(&image("emi-0000000b", "bob")).await,
        Err(StoreError::Exists { .. })
    ));
    let ids: Vec<String> = store
        .images()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(ids, ["eki-0000000a", "emi-0000000b"]);
    assert_eq!(store.images().await.unwrap()[0].kind, ImageKind::Kernel);
    // Another user's image stays; the administrator's (`None`) deletes any.
    assert!(!store
        .delete_image(Some("ann"), "eki-0000000a")
        .await
        .unwrap());
    assert!(store
        .delete_image(Some("ann"), "emi-0000000b")
        .await
        .unwrap());
    assert!(store.delete_image(None, "eki-0000000a").await.unwrap());
    assert!(store.images().await.unwrap().is_empty());
}

async fn instances_are_kept_per_owner_and_marked_terminated(store: &dyn Store) {
    let instance = |id: &str, owner: &str, index: u32| Instance {
        id: id.into(),
        reservation: "r-00000001".into(),
        owner: owner.into(),
        image: "emi-00000001".into(),
        kernel: Some("eki-00000001".into()),
        ramdisk: None,
        vm_type: "m1.small".into(),
        key_name: None,
        groups: vec!["default".into(), "web".into()],
        launch_index: index,
        cluster: "zone1".into(),
        launched: 1,
        terminated: false,
        client_token: None,
        observed: Observed::default(),
    };
    let ann = [
        instance("i-00000002", "ann", 0),
        instance("i-00000001", "ann", 1),
    ];
    store.add_instances(&ann).await.unwrap();
    // All or none: the second is taken, so the first is not added either.
    let again = [
        instance("i-00000003", "bob", 0),
        instance("i-00000001", "bob", 1),
    ];
    assert!(matches!(
        store.add_instances(&again).await,
        Err(StoreError::Exists { .. })
    ));
    assert_eq!(store.instances(Some("ann")).await.unwrap(), ann);
    assert!(store.instances(Some("bob")).await.unwrap().is_empty());
    store.set_terminated(&["i-00000001".into()]).await.unwrap();
    store
        .remove_instances(&["i-00000002".into()])
        .await
        .unwrap();
    let left = store.instances(None).await.unwrap();
    assert_eq!(left.len(), 1);
    assert!(left[0].terminated && left[0].groups == ["default", "web"]);
}

/// An instance of `owner`'s reservation on `cluster`, as RunInstances records it; the tests
/// of the operations start from it too.
pub(crate) fn sample(
    id: &str,
    owner: &str,
    reservation: &str,
    cluster: &str,
    index: u32,
) -> Instance {
    Instance {
        id: id.into(),
        reservation: reservation.into(),
        owner: owner.into(),
        image: "emi-00000001".into(),
        kernel: Some("eki-00000001".into()),
        ramdisk: None,
        vm_type: "m1.small".into(),
        key_name: Some("k".into()),
        groups: vec!["default".into()],
        launch_index: index,
        cluster: cluster.into(),
        launched: 10,
        terminated: false,
        client_token: None,
        observed: Observed::default(),
    }
}

async fn observations_are_recorded_and_vanished_instances_leave_the_live_set(store: &dyn Store) {
    let first = sample("i-000000a1", "ann", "r-000000a1", "east", 0);
    let second = sample("i-000000a2", "ann", "r-000000a1", "east", 1);
    let elsewhere = sample("i-000000a3", "bob", "r-000000a3", "west", 0);
    store
        .add_instances(&[first.clone(), second.clone(), elsewhere.clone()])
        .await
        .unwrap();
    let ids =
        |instances: Vec<Instance>| -> Vec<String> { instances.into_iter().map(|i| i.id).collect() };
    assert_eq!(
        ids(store.live_instances("east").await.unwrap()),
        [first.id.clone(), second.id.clone()]
    );
    let running = Observed {
        state: Some("Extant".into()),
        private_ip: "10.0.0.5".into(),
        public_ip: "192.0.2.7".into(),
        node: "http://n1/axis2/services/EucalyptusNC".into(),
        seen: Some(20),
        vanished: false,
    };
    let gone = Observed {
        vanished: true,
        ..Observed::default()
    };
    // An id the store does not hold is skipped, not an error.
    store
        .observe(&[
            (first.id.clone(), running.clone()),
            (second.id.clone(), gone.clone()),
            ("i-0000ffff".into(), running.clone()),
        ])
        .await
        .unwrap();
    assert_eq!(
        ids(store.live_instances("east").await.unwrap()),
        std::slice::from_ref(&first.id)
    );
    assert_eq!(
        ids(store.live_instances("west").await.unwrap()),
        std::slice::from_ref(&elsewhere.id)
    );
    let all: Vec<Instance> = store
        .instances(Some("ann"))
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.reservation == first.reservation)
        .collect();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].observed, running);
    assert_eq!(all[1].observed, gone);
    // What a tick records does not touch what the cloud asked for.
    assert!(!all[0].terminated && all[0].key_name.as_deref() == Some("k"));
    store
        .remove_instances(&[first.id, second.id, elsewhere.id])
        .await
        .unwrap();
}

async fn a_client_token_names_one_reservation_per_owner(store: &dyn Store) {
    let with_token = |mut i: Instance| {
        i.client_token = Some("token-1".into());
        i
    };
    let ann = [
        with_token(sample("i-000000b2", "ann", "r-000000b1", "east", 1)),
        with_token(sample("i-000000b1", "ann", "r-000000b1", "east", 0)),
    ];
    store.add_instances(&ann).await.unwrap();
    let found = store.by_client_token("ann", "token-1").await.unwrap();
    assert_eq!(found, [ann[1].clone(), ann[0].clone()]);
    // A retry that raced past the lookup cannot record a second reservation.
    let again = [with_token(sample(
        "i-000000b3",
        "ann",
        "r-000000b3",
        "east",
        0,
    ))];
    let refused = store.add_instances(&again).await;
    assert!(
        matches!(
            &refused,
            Err(StoreError::Exists {
                what: "client token",
                ..
            })
        ),
        "{refused:?}"
    );
    assert!(store
        .by_client_token("ann", "token-2")
        .await
        .unwrap()
        .is_empty());
    // Tokens are per owner.
    let bob = [with_token(sample(
        "i-000000b4",
        "bob",
        "r-000000b4",
        "east",
        0,
    ))];
    store.add_instances(&bob).await.unwrap();
    assert_eq!(store.by_client_token("bob", "token-1").await.unwrap(), bob);
    assert_eq!(
        store.by_client_token("ann", "token-1").await.unwrap().len(),
        2
    );
}
