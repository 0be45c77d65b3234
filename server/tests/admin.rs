//! Users and devices managed over HTTP (admin only) and from the command line.

use axum::http::StatusCode;
use gridsync_server::principal::Role;
use serde_json::{Value, json};

use crate::support::{
    COMMUNITY, G1, G2, G3, PASSWORD, STREET, TestServer, device, message, str_of,
};

#[tokio::test]
async fn admin_endpoints_are_403_for_everyone_else() {
    let s = TestServer::new().await;
    s.add_user("wang", Role::GridWorker, &[G1], None).await;
    s.add_user("zhao", Role::Supervisor, &[], Some(COMMUNITY))
        .await;
    s.add_user("li", Role::PackageHolder, &[], None).await;
    let user = s.add_user("dept", Role::Department, &[], None).await;
    let csv = crate::support::TERRITORY_CSV.as_bytes().to_vec();
    for username in ["wang", "zhao", "li", "dept"] {
        let (token, _) = s.tokens(username, &device()).await;
        let t = Some(token.as_str());
        let calls = [
            s.call("GET", "/v1/admin/users", t, None).await,
            s.call(
                "POST",
                "/v1/admin/users",
                t,
                Some(json!({"username": "x1", "display_name": "某某", "role": "admin"})),
            )
            .await,
            s.call("GET", &format!("/v1/admin/users/{}", user.id), t, None)
                .await,
            s.call(
                "PATCH",
                &format!("/v1/admin/users/{}", user.id),
                t,
                Some(json!({"role": "admin"})),
            )
            .await,
            s.call("GET", "/v1/admin/devices", t, None).await,
            s.call("GET", "/v1/admin/departments", t, None).await,
            s.call(
                "POST",
                "/v1/admin/departments",
                t,
                Some(json!({"code": "xiaofang", "name": "消防"})),
            )
            .await,
            s.call(
                "POST",
                &format!("/v1/admin/devices/{}/revoke", device()),
                t,
                None,
            )
            .await,
            s.call("GET", "/v1/admin/territory", t, None).await,
            s.call(
                "POST",
                "/v1/admin/territory",
                t,
                Some(json!({"streets": []})),
            )
            .await,
            s.call_raw(
                "POST",
                "/v1/admin/territory/csv",
                t,
                "text/csv",
                Some(csv.clone()),
            )
            .await,
        ];
        for (i, (status, body)) in calls.iter().enumerate() {
            assert_eq!(
                *status,
                StatusCode::FORBIDDEN,
                "{username} call {i}: {body}"
            );
            assert!(message(body).contains("administrator"), "{body}");
        }
    }
    // Nobody was promoted or created.
    assert!(
        s.state
            .directory
            .user_by_username("x1")
            .await
            .expect("dir")
            .is_none()
    );
    assert_eq!(
        s.state
            .directory
            .user(&user.id)
            .await
            .expect("dir")
            .expect("user")
            .role,
        Role::Department
    );
    // Without a token: 401.
    assert_eq!(
        s.call("GET", "/v1/admin/users", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn admin_creates_a_user_who_can_then_sign_in() {
    let s = TestServer::new().await;
    let admin = s.admin_token().await;
    let (status, body) = s
        .call(
            "POST",
            "/v1/admin/users",
            Some(&admin),
            Some(json!({"username": "wang", "display_name": "王芳", "role": "grid_worker", "grids": [G2, G1]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let password = str_of(&body, "generated_password");
    assert!(password.len() >= 12);
    assert_eq!(body["user"]["grids"], json!([G1, G2]));
    assert_eq!(body["user"]["active"], true);
    assert!(body["user"].get("password_hash").is_none());
    let id = str_of(&body["user"], "id");
    assert!(uuid::Uuid::parse_str(&id).is_ok());

    let (status, login) = s
        .call(
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"username": "wang", "password": password, "device_id": device()})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    assert_eq!(login["user"]["display_name"], "王芳");

    let (status, got) = s
        .call("GET", &format!("/v1/admin/users/{id}"), Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["username"], "wang");
    let (status, list) = s.call("GET", "/v1/admin/users", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    let (status, _) = s
        .call("GET", "/v1/admin/users/no-such-id", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // With a chosen password, nothing is generated.
    let (status, body) = s
        .call(
            "POST",
            "/v1/admin/users",
            Some(&admin),
            Some(json!({"username": "zhao", "display_name": "赵强", "role": "supervisor", "subtree": STREET, "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body.get("generated_password").is_none());
    assert_eq!(s.login("zhao", &device()).await.0, StatusCode::OK);
}

#[tokio::test]
async fn users_are_validated_and_nothing_half_made() {
    let s = TestServer::new().await;
    let admin = s.admin_token().await;
    let post = |body: Value| {
        let admin = admin.clone();
        let s = &s;
        async move {
            s.call("POST", "/v1/admin/users", Some(&admin), Some(body))
                .await
        }
    };
    let cases = [
        (
            json!({"username": "w1", "display_name": "王", "role": "grid_worker", "grids": [G1, "110105001001009"]}),
            "grids",
            "110105001001009",
        ),
        (
            json!({"username": "w2", "display_name": "王", "role": "grid_worker", "grids": ["12345"]}),
            "grids",
            "15",
        ),
        (
            json!({"username": "w3", "display_name": "王", "role": "grid_worker"}),
            "grids",
            "at least one grid",
        ),
        (
            json!({"username": "w4", "display_name": "王", "role": "supervisor"}),
            "subtree",
            "subtree",
        ),
        (
            json!({"username": "w5", "display_name": "王", "role": "supervisor", "subtree": "110105001009"}),
            "subtree",
            "does not exist",
        ),
        (
            json!({"username": "w6", "display_name": "王", "role": "supervisor", "subtree": "1101"}),
            "subtree",
            "12-digit",
        ),
        (
            json!({"username": "w7", "display_name": "王", "role": "package_holder", "grids": [G1]}),
            "grids",
            "only grid workers",
        ),
        (
            json!({"username": "w8", "display_name": "王", "role": "admin", "subtree": STREET}),
            "subtree",
            "only supervisors",
        ),
        (
            json!({"username": "w9", "display_name": " ", "role": "admin"}),
            "display_name",
            "empty",
        ),
        (
            json!({"username": "a b", "display_name": "王", "role": "admin"}),
            "username",
            "letters",
        ),
        (
            json!({"username": "w10", "display_name": "王", "role": "admin", "password": "short"}),
            "password",
            "8",
        ),
    ];
    for (body, field, needle) in cases {
        let (status, answer) = post(body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {answer}");
        assert_eq!(answer["field"], field, "{body} → {answer}");
        assert!(message(&answer).contains(needle), "{body} → {answer}");
    }
    let (status, answer) =
        post(json!({"username": "w11", "display_name": "王", "role": "overlord"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    // Only the admin exists.
    assert_eq!(s.state.directory.users().await.expect("users").len(), 1);

    // Usernames are unique, case-insensitively.
    let ok =
        json!({"username": "Wang", "display_name": "王", "role": "grid_worker", "grids": [G1]});
    assert_eq!(post(ok).await.0, StatusCode::CREATED);
    let (status, answer) =
        post(json!({"username": "wANG", "display_name": "王", "role": "admin"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(!message(&answer).contains("wANG"), "no echo: {answer}");
}

#[tokio::test]
async fn patching_a_user_takes_effect_on_the_next_request() {
    let s = TestServer::new().await;
    let admin = s.admin_token().await;
    let user = s.add_user("wang", Role::GridWorker, &[G1], None).await;
    let dev = device();
    let (access, refresh) = s.tokens("wang", &dev).await;
    let url = format!("/v1/admin/users/{}", user.id);

    let (status, body) = s
        .call(
            "PATCH",
            &url,
            Some(&admin),
            Some(json!({"grids": [G3, G2]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(s.me(&access).await.1["grids"], json!([G2, G3]));

    // Unknown grid: refused, nothing changed.
    let (status, body) = s
        .call(
            "PATCH",
            &url,
            Some(&admin),
            Some(json!({"grids": ["110105001001077"]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(s.me(&access).await.1["grids"], json!([G2, G3]));

    // New role: grids that the role has not are dropped.
    let (status, body) = s
        .call(
            "PATCH",
            &url,
            Some(&admin),
            Some(json!({"role": "supervisor", "subtree": COMMUNITY, "display_name": "王主任"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let me = s.me(&access).await.1;
    assert_eq!(
        (
            me["role"].as_str(),
            me["grids"].clone(),
            me["subtree"].as_str()
        ),
        (Some("supervisor"), json!([]), Some(COMMUNITY))
    );
    assert_eq!(me["display_name"], "王主任");
    // `subtree: null` clears it, which a supervisor cannot have.
    let (status, _) = s
        .call("PATCH", &url, Some(&admin), Some(json!({"subtree": null})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Unknown fields are refused rather than ignored.
    let (status, body) = s
        .call("PATCH", &url, Some(&admin), Some(json!({"grid": [G1]})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // A new password ends the user's sessions; the old password stops working.
    let (status, _) = s
        .call(
            "PATCH",
            &url,
            Some(&admin),
            Some(json!({"password": "a new password"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.me(&access).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(s.refresh(&refresh, &dev).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(s.login("wang", &dev).await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = s
        .call(
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"username": "wang", "password": "a new password", "device_id": dev})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        s.call(
            "PATCH",
            "/v1/admin/users/nope",
            Some(&admin),
            Some(json!({"active": true}))
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_admin_cannot_lock_themselves_out() {
    let s = TestServer::new().await;
    let admin = s.admin_token().await;
    let me = s.me(&admin).await.1;
    let url = format!("/v1/admin/users/{}", str_of(&me, "user_id"));
    for change in [
        json!({"active": false}),
        json!({"role": "grid_worker", "grids": [G1]}),
    ] {
        let (status, body) = s.call("PATCH", &url, Some(&admin), Some(change)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
    }
    assert_eq!(s.me(&admin).await.1["role"], "admin");
    let (status, _) = s
        .call(
            "PATCH",
            &url,
            Some(&admin),
            Some(json!({"display_name": "管理员"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn devices_are_listed_per_user() {
    let s = TestServer::new().await;
    let admin = s.admin_token().await;
    s.add_user("wang", Role::GridWorker, &[G1], None).await;
    let (d1, d2) = (device(), device());
    s.tokens("wang", &d1).await;
    s.tokens("wang", &d2).await;
    let (status, all) = s.call("GET", "/v1/admin/devices", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all.as_array().map(Vec::len), Some(3));
    let (status, mine) = s
        .call("GET", "/v1/admin/devices?user=wang", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = mine
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&d1.as_str()) && ids.contains(&d2.as_str()));
    assert!(mine[0]["revoked_at"].is_null());
    assert_eq!(mine[0]["username"], "wang");
    assert_eq!(
        s.call("GET", "/v1/admin/devices?user=nobody", Some(&admin), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

/// Run the real command line on `dir` (each call opens the data directory
/// anew, as the binary does).
fn cli(dir: &std::path::Path, args: &[&str]) -> anyhow::Result<()> {
    use clap::Parser;
    let mut argv = vec![
        "gridsync-server",
        "--data-dir",
        dir.to_str().expect("utf-8 path"),
    ];
    argv.extend_from_slice(args);
    gridsync_server::cli::run(gridsync_server::cli::Cli::try_parse_from(argv)?)
}

/// Open the data directory and look at it with `f` (the state is dropped
/// inside the runtime, as the pool requires).
fn inspect<F, Fut>(dir: &std::path::Path, f: F)
where
    F: FnOnce(gridsync_server::AppState) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let config = gridsync_server::config::Config::with_data_dir(dir);
        f(gridsync_server::AppState::open(config)
            .await
            .expect("state"))
        .await;
    });
}

#[test]
fn the_command_line_manages_users_and_devices() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let file = d.join("territory.json");
    std::fs::write(&file, crate::support::TERRITORY_JSON).expect("write");
    cli(d, &["import", file.to_str().expect("path")]).expect("import");

    cli(
        d,
        &[
            "admin",
            "user",
            "add",
            "--username",
            "root",
            "--name",
            "管理员",
            "--role",
            "admin",
            "--password",
            PASSWORD,
        ],
    )
    .expect("add admin");
    cli(
        d,
        &[
            "admin",
            "user",
            "add",
            "--username",
            "wang",
            "--name",
            "王芳",
            "--role",
            "网格员",
            "--grids",
            &format!("{G1},{G2}"),
        ],
    )
    .expect("add worker (generated password)");
    cli(
        d,
        &[
            "admin",
            "user",
            "add",
            "--username",
            "zhao",
            "--name",
            "赵强",
            "--role",
            "supervisor",
            "--subtree",
            COMMUNITY,
            "--password",
            PASSWORD,
        ],
    )
    .expect("add supervisor");
    let err = cli(
        d,
        &[
            "admin",
            "user",
            "add",
            "--username",
            "bad",
            "--name",
            "某",
            "--role",
            "grid_worker",
            "--grids",
            "110105001001099",
            "--password",
            PASSWORD,
        ],
    )
    .expect_err("unknown grid");
    assert!(format!("{err:#}").contains("110105001001099"), "{err:#}");
    assert!(
        cli(
            d,
            &[
                "admin",
                "user",
                "add",
                "--username",
                "x",
                "--name",
                "某",
                "--role",
                "emperor"
            ]
        )
        .is_err()
    );
    cli(d, &["admin", "user", "list"]).expect("list");
    cli(d, &["admin", "user", "grids", "wang", "--grids", G3]).expect("grids");
    cli(
        d,
        &[
            "admin",
            "user",
            "set-password",
            "wang",
            "--password",
            "another password",
        ],
    )
    .expect("set-password");
    cli(d, &["admin", "user", "deactivate", "zhao"]).expect("deactivate");
    cli(
        d,
        &[
            "admin",
            "user",
            "set-role",
            "zhao",
            "--role",
            "package_holder",
        ],
    )
    .expect("set-role");
    assert!(cli(d, &["admin", "user", "deactivate", "nobody"]).is_err());

    let dev = device();
    let signed_in = &dev;
    inspect(d, |state| async move {
        let dir = &state.directory;
        let wang = dir
            .user_by_username("wang")
            .await
            .expect("dir")
            .expect("wang");
        assert_eq!(wang.grids, vec![G3.to_owned()]);
        assert_eq!(wang.display_name, "王芳");
        let zhao = dir
            .user_by_username("zhao")
            .await
            .expect("dir")
            .expect("zhao");
        assert!(!zhao.active);
        assert_eq!((zhao.role, zhao.subtree), (Role::PackageHolder, None));
        assert!(dir.user_by_username("bad").await.expect("dir").is_none());
        let hash = dir.password_hash(&wang.id).await.expect("dir");
        assert!(gridsync_server::auth::verify_password(
            "another password",
            hash.as_deref()
        ));
        assert!(hash.is_some_and(|h| h.starts_with("$argon2id$")));
        gridsync_server::auth::issue_tokens(&state, &wang, signed_in, Some("phone"))
            .await
            .expect("sign in");
    });

    cli(d, &["admin", "device", "list"]).expect("device list");
    cli(d, &["admin", "device", "list", "--user", "wang"]).expect("device list --user");
    cli(d, &["admin", "device", "revoke", &dev]).expect("revoke");
    assert!(cli(d, &["admin", "device", "revoke", &device()]).is_err());
    cli(d, &["admin", "user", "activate", "zhao"]).expect("activate");

    inspect(d, |state| async move {
        let device = state
            .directory
            .device(signed_in)
            .await
            .expect("dir")
            .expect("device");
        assert!(device.revoked_at.is_some());
        assert!(
            state
                .directory
                .user_by_username("zhao")
                .await
                .expect("dir")
                .expect("zhao")
                .active
        );
    });
}
