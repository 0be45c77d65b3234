//! The directory conformance suite: every `Directory` implementation must
//! pass it. `directory_conformance!` instantiates it for one implementation.

use std::sync::Arc;

use gridsync_server::directory::{
    Directory, DirectoryError, EndReason, NewRefreshToken, NewUser, Session, TerritoryRows,
    UserUpdate,
};
use gridsync_server::principal::Role;

use crate::support::{COMMUNITY, G1, G2, G3, STREET, TERRITORY_JSON};

fn rows() -> TerritoryRows {
    gridsync_server::territory::parse_json(TERRITORY_JSON.as_bytes()).expect("territory")
}

async fn with_territory(dir: &dyn Directory) {
    dir.import_territory(&rows()).await.expect("import");
}

fn session(id: &str, user_id: &str, device_id: &str) -> Session {
    Session {
        id: id.into(),
        user_id: user_id.into(),
        device_id: Some(device_id.into()),
        created_at: 1_000,
        ended_at: None,
        device_revoked: false,
    }
}

fn token(hash: &str) -> NewRefreshToken {
    NewRefreshToken {
        token_hash: hash.into(),
        expires_at: 1_000_000,
    }
}

pub(crate) mod suite {
    use super::*;

    pub(crate) async fn territory_lookups(dir: Arc<dyn Directory>) {
        let first = dir.import_territory(&rows()).await.expect("import");
        assert_eq!(
            (
                first.streets.created,
                first.communities.created,
                first.grids.created
            ),
            (1, 2, 3)
        );
        let again = dir.import_territory(&rows()).await.expect("import");
        assert_eq!(
            (
                again.grids.created,
                again.grids.updated,
                again.grids.unchanged
            ),
            (0, 0, 3)
        );
        assert_eq!(
            dir.grid_codes_under(COMMUNITY).await.expect("dir"),
            [G1, G2]
        );
        assert_eq!(
            dir.grid_codes_under(STREET).await.expect("dir"),
            [G1, G2, G3]
        );
        assert_eq!(dir.grid_codes_under("").await.expect("dir"), [G1, G2, G3]);
        assert!(
            dir.grid_codes_under("11010500_")
                .await
                .expect("dir")
                .is_empty()
        );
        assert_eq!(
            dir.grid(G2)
                .await
                .expect("dir")
                .expect("grid")
                .community_code,
            COMMUNITY
        );
        assert!(dir.grid("110105001001099").await.expect("dir").is_none());
        assert_eq!(dir.streets().await.expect("dir").len(), 1);
        assert_eq!(dir.communities("").await.expect("dir").len(), 2);
        assert_eq!(dir.grids("110105001002").await.expect("dir").len(), 1);
        assert!(dir.community("110105001003").await.expect("dir").is_none());
    }

    /// 楼栋长 and 单元长: a post is required and checked, its grid becomes
    /// the user's one grid, it is stored and read back, and a role change
    /// away from head drops it.
    pub(crate) async fn building_heads(dir: Arc<dyn Directory>) {
        use gridsync_core::contact::Post;
        with_territory(dir.as_ref()).await;
        let post = Post {
            grid: format!(" {G1} "),
            compound: "幸福小区".into(),
            building: " 3号楼 ".into(),
            unit: String::new(),
        };
        let head = dir
            .create_user(NewUser::new("lou", "楼栋长", Role::BuildingHead).with_post(post.clone()))
            .await
            .expect("create");
        let stored = head.post.clone().expect("post kept");
        assert_eq!(
            (stored.grid.as_str(), stored.building.as_str()),
            (G1, "3号楼")
        );
        assert_eq!(head.grids, [G1]);
        assert_eq!(dir.user(&head.id).await.expect("dir"), Some(head.clone()));
        assert_eq!(head.principal(None).post, Some(stored));

        let field = |r: Result<gridsync_server::directory::User, DirectoryError>| match r {
            Err(DirectoryError::Invalid { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        };
        let no_post = dir
            .create_user(NewUser::new("lou2", "楼栋长", Role::BuildingHead))
            .await;
        assert_eq!(field(no_post), "post");
        let unit_without_unit = dir
            .create_user(NewUser::new("dan", "单元长", Role::UnitHead).with_post(post.clone()))
            .await;
        assert_eq!(field(unit_without_unit), "post.unit");
        let worker_with_post = dir
            .create_user(
                NewUser::new("wg", "网格员", Role::GridWorker)
                    .with_grids([G1])
                    .with_post(post.clone()),
            )
            .await;
        assert_eq!(field(worker_with_post), "post");
        let unknown_grid = dir
            .create_user(
                NewUser::new("lou3", "楼栋长", Role::BuildingHead).with_post(Post {
                    grid: "110105001001099".into(),
                    ..post.clone()
                }),
            )
            .await;
        assert!(
            matches!(unknown_grid, Err(DirectoryError::UnknownGrid(_))),
            "{unknown_grid:?}"
        );

        let unit = dir
            .update_user(
                &head.id,
                UserUpdate {
                    role: Some(Role::UnitHead),
                    post: Some(Some(Post {
                        unit: "2单元".into(),
                        ..post.clone()
                    })),
                    ..UserUpdate::default()
                },
            )
            .await
            .expect("to unit head");
        assert_eq!(unit.post.as_ref().map(|p| p.unit.as_str()), Some("2单元"));
        let worker = dir
            .update_user(
                &head.id,
                UserUpdate {
                    role: Some(Role::GridWorker),
                    grids: Some(vec![G2.into()]),
                    ..UserUpdate::default()
                },
            )
            .await
            .expect("to grid worker");
        assert_eq!((worker.post, worker.grids), (None, vec![G2.to_owned()]));
    }

    pub(crate) async fn users(dir: Arc<dyn Directory>) {
        with_territory(dir.as_ref()).await;
        let u = dir
            .create_user(
                NewUser::new(" Wang ", " 王芳 ", Role::GridWorker).with_grids([G2, G1, G2]),
            )
            .await
            .expect("create");
        assert_eq!(
            (u.username.as_str(), u.display_name.as_str()),
            ("Wang", "王芳")
        );
        assert_eq!(u.grids, [G1, G2]);
        assert!(u.active && !u.has_password);
        assert_eq!(dir.user(&u.id).await.expect("dir"), Some(u.clone()));
        assert_eq!(
            dir.user_by_username("wANG").await.expect("dir"),
            Some(u.clone())
        );
        assert!(dir.password_hash(&u.id).await.expect("dir").is_none());

        let taken = dir
            .create_user(NewUser::new("WANG", "另一个", Role::Admin))
            .await;
        assert!(
            matches!(taken, Err(DirectoryError::UsernameTaken)),
            "{taken:?}"
        );
        let unknown = dir
            .create_user(
                NewUser::new("li", "李", Role::GridWorker).with_grids([G1, "110105001001099"]),
            )
            .await;
        assert!(
            matches!(unknown, Err(DirectoryError::UnknownGrid(ref g)) if g == "110105001001099"),
            "{unknown:?}"
        );
        assert!(
            dir.user_by_username("li").await.expect("dir").is_none(),
            "nothing half made"
        );
        let unknown = dir
            .create_user(NewUser::new("zhao", "赵", Role::Supervisor).with_subtree("110105009"))
            .await;
        assert!(
            matches!(unknown, Err(DirectoryError::UnknownSubtree(_))),
            "{unknown:?}"
        );
        let invalid = dir.create_user(NewUser::new("x", "某", Role::Admin)).await;
        assert!(
            matches!(
                invalid,
                Err(DirectoryError::Invalid {
                    field: "username",
                    ..
                })
            ),
            "{invalid:?}"
        );

        let changed = dir
            .update_user(
                &u.id,
                UserUpdate {
                    role: Some(Role::Supervisor),
                    subtree: Some(Some(STREET.into())),
                    password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
                    ..UserUpdate::default()
                },
            )
            .await
            .expect("update");
        assert_eq!(
            (
                changed.role,
                changed.grids.len(),
                changed.subtree.as_deref()
            ),
            (Role::Supervisor, 0, Some(STREET))
        );
        assert!(changed.has_password);
        assert!(dir.password_hash(&u.id).await.expect("dir").is_some());
        let bad = dir
            .update_user(
                &u.id,
                UserUpdate {
                    subtree: Some(Some("110105001009".into())),
                    ..UserUpdate::default()
                },
            )
            .await;
        assert!(
            matches!(bad, Err(DirectoryError::UnknownSubtree(_))),
            "{bad:?}"
        );
        assert_eq!(
            dir.user(&u.id)
                .await
                .expect("dir")
                .expect("user")
                .subtree
                .as_deref(),
            Some(STREET)
        );
        let missing = dir.update_user("nobody", UserUpdate::default()).await;
        assert!(matches!(missing, Err(DirectoryError::UserNotFound)));
        let off = dir
            .update_user(
                &u.id,
                UserUpdate {
                    active: Some(false),
                    ..UserUpdate::default()
                },
            )
            .await
            .expect("deactivate");
        assert!(!off.active);

        dir.create_user(NewUser::new("admin", "管理员", Role::Admin))
            .await
            .expect("admin");
        let names: Vec<String> = dir
            .users()
            .await
            .expect("users")
            .into_iter()
            .map(|u| u.username)
            .collect();
        assert_eq!(names, ["admin", "Wang"]);
    }

    pub(crate) async fn devices_and_sessions(dir: Arc<dyn Directory>) {
        with_territory(dir.as_ref()).await;
        let a = dir
            .create_user(NewUser::new("wang", "王", Role::GridWorker).with_grids([G1]))
            .await
            .expect("a");
        let b = dir
            .create_user(NewUser::new("li", "李", Role::Admin))
            .await
            .expect("b");
        let d = dir
            .register_device("dev-1", &a.id, Some("手机"), 10)
            .await
            .expect("register");
        assert_eq!(
            (d.user_id.as_str(), d.username.as_str(), d.name.as_deref()),
            (a.id.as_str(), "wang", Some("手机"))
        );
        let d = dir
            .register_device("dev-1", &a.id, None, 20)
            .await
            .expect("again");
        assert_eq!(
            (d.registered_at, d.last_seen_at, d.name.as_deref()),
            (10, 20, Some("手机"))
        );
        let other = dir.register_device("dev-1", &b.id, None, 30).await;
        assert!(
            matches!(other, Err(DirectoryError::DeviceOfAnotherUser)),
            "{other:?}"
        );
        dir.register_device("dev-2", &b.id, None, 30)
            .await
            .expect("b's device");
        assert_eq!(dir.devices(Some(&a.id)).await.expect("dir").len(), 1);
        assert_eq!(dir.devices(None).await.expect("dir").len(), 2);

        dir.create_session(&session("s1", &a.id, "dev-1"), &token("h1"))
            .await
            .expect("s1");
        dir.create_session(&session("s2", &a.id, "dev-1"), &token("h2"))
            .await
            .expect("s2");
        assert!(dir.session("s1").await.expect("dir").expect("s1").is_live());
        let record = dir.refresh_token("h1").await.expect("dir").expect("h1");
        assert_eq!((record.session_id.as_str(), record.used_at), ("s1", None));

        assert!(
            dir.rotate_refresh_token("h1", &token("h1b"), 50)
                .await
                .expect("rotate")
        );
        assert!(
            !dir.rotate_refresh_token("h1", &token("h1c"), 60)
                .await
                .expect("spent")
        );
        assert!(
            !dir.rotate_refresh_token("nope", &token("h1d"), 60)
                .await
                .expect("unknown")
        );
        assert_eq!(
            dir.refresh_token("h1")
                .await
                .expect("dir")
                .expect("h1")
                .used_at,
            Some(50)
        );
        assert_eq!(
            dir.refresh_token("h1b")
                .await
                .expect("dir")
                .expect("h1b")
                .session_id,
            "s1"
        );
        assert!(dir.refresh_token("h1c").await.expect("dir").is_none());

        dir.end_session("s1", EndReason::Logout, 70)
            .await
            .expect("end");
        assert_eq!(
            dir.session("s1").await.expect("dir").expect("s1").ended_at,
            Some(70)
        );
        assert_eq!(
            dir.end_device_sessions("dev-1", EndReason::RefreshReuse, 80)
                .await
                .expect("end"),
            1
        );
        dir.create_session(&session("s3", &a.id, "dev-1"), &token("h3"))
            .await
            .expect("s3");
        assert_eq!(
            dir.end_user_sessions(&a.id, EndReason::PasswordChanged, 90)
                .await
                .expect("end"),
            1
        );

        dir.create_session(&session("s4", &a.id, "dev-1"), &token("h4"))
            .await
            .expect("s4");
        let revoked = dir.revoke_device("dev-1", 100).await.expect("revoke");
        assert_eq!(revoked.revoked_at, Some(100));
        let s4 = dir.session("s4").await.expect("dir").expect("s4");
        assert!(s4.device_revoked && s4.ended_at.is_some() && !s4.is_live());
        let again = dir.register_device("dev-1", &a.id, None, 110).await;
        assert!(
            matches!(again, Err(DirectoryError::DeviceRevoked)),
            "{again:?}"
        );
        assert!(matches!(
            dir.revoke_device("dev-9", 100).await,
            Err(DirectoryError::DeviceNotFound)
        ));
    }

    pub(crate) async fn concurrent_rotation_has_one_winner(dir: Arc<dyn Directory>) {
        let a = dir
            .create_user(NewUser::new("li", "李", Role::Admin))
            .await
            .expect("user");
        dir.register_device("dev-1", &a.id, None, 1)
            .await
            .expect("device");
        dir.create_session(&session("s1", &a.id, "dev-1"), &token("h0"))
            .await
            .expect("session");
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let dir = dir.clone();
                tokio::spawn(async move {
                    dir.rotate_refresh_token("h0", &token(&format!("n{i}")), 5)
                        .await
                })
            })
            .collect();
        let mut winners = 0;
        for t in tasks {
            if t.await.expect("task").expect("rotate") {
                winners += 1;
            }
        }
        assert_eq!(winners, 1);
    }
}

macro_rules! directory_conformance {
    ($make:expr, $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (dir, _guard) = $make.await;
                suite::$name(dir).await;
            }
        )+
    };
}

async fn sqlite_directory() -> (Arc<dyn Directory>, tempfile::TempDir) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pool = gridsync_server::db::open(&tmp.path().join("dir.sqlite3"))
        .await
        .expect("db");
    (
        Arc::new(gridsync_server::directory::sqlite::SqliteDirectory::new(
            pool,
        )),
        tmp,
    )
}

mod sqlite {
    use super::*;

    directory_conformance!(
        sqlite_directory(),
        territory_lookups,
        users,
        building_heads,
        devices_and_sessions,
        concurrent_rotation_has_one_winner,
    );
}
